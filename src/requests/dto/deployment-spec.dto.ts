import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsNotEmpty, IsObject, IsString, Max, MaxLength, Min, Validate, ValidateNested } from 'class-validator';
import {
  IsAnnotationMap,
  IsDns1123Label,
  IsEnvMap,
  IsImageReference,
  IsLabelMap,
  IsOptionalNotNull,
  IsQuantity,
  IsRequestId,
} from '../../domain/validators.js';
import { MaxReplicasConstraint } from './max-replicas.constraint.js';
import { MAX_PROGRESS_DEADLINE_SECONDS } from '../../domain/deployment-spec.js';
import {
  DNS_LABEL,
  ENV_NAME,
  IMAGE_PATTERN,
  LABEL_VALUE_PATTERN,
  QUALIFIED_NAME,
  QUANTITY_PATTERN,
  REQUEST_ID,
} from '../../domain/validators.js';

/** JSON Schema's propertyNames (OpenAPI 3.1), which @nestjs/swagger's types do not list but pass on. */
const keysMatch = (schema: object): object => ({ propertyNames: schema });

export class QuantitiesDto {
  @ApiPropertyOptional({ example: '250m', description: 'Kubernetes quantity, not negative', pattern: QUANTITY_PATTERN })
  @IsOptionalNotNull()
  @IsQuantity()
  cpu?: string;

  @ApiPropertyOptional({
    example: '256Mi',
    description: 'Kubernetes quantity, not negative',
    pattern: QUANTITY_PATTERN,
  })
  @IsOptionalNotNull()
  @IsQuantity()
  memory?: string;
}

export class ResourcesDto {
  @ApiPropertyOptional({ type: QuantitiesDto })
  @IsOptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => QuantitiesDto)
  requests?: QuantitiesDto;

  @ApiPropertyOptional({ type: QuantitiesDto })
  @IsOptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => QuantitiesDto)
  limits?: QuantitiesDto;
}

/** The desired state of a Deployment as clients send it (PUT body; POST adds namespace and name). */
export class DeploymentSpecDto {
  @ApiProperty({
    example: 'nginx:1.27',
    description: 'Container image reference, no whitespace',
    minLength: 1,
    maxLength: 1024,
    pattern: IMAGE_PATTERN,
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  @IsImageReference()
  image!: string;

  @ApiProperty({ type: 'integer', example: 2, minimum: 0, description: 'Desired pod count, 0 to MAX_REPLICAS' })
  @IsInt()
  @Min(0)
  @Validate(MaxReplicasConstraint)
  replicas!: number;

  @ApiPropertyOptional({ type: 'integer', example: 8080, minimum: 1, maximum: 65535 })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(65535)
  containerPort?: number;

  @ApiPropertyOptional({
    type: 'integer',
    example: 120,
    minimum: 1,
    maximum: MAX_PROGRESS_DEADLINE_SECONDS,
    description:
      'spec.progressDeadlineSeconds: seconds a rollout may make no progress before Kubernetes reports ' +
      'ProgressDeadlineExceeded (the rollout receipt is then FAILED); Kubernetes defaults it to 600',
  })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(MAX_PROGRESS_DEADLINE_SECONDS)
  progressDeadlineSeconds?: number;

  @ApiPropertyOptional({
    example: { LOG_LEVEL: 'info' },
    type: 'object',
    description: 'Environment variables: C-identifier-like names (also "." and "-") to literal values',
    ...keysMatch({ pattern: ENV_NAME.source }),
    additionalProperties: { type: 'string' },
  })
  @IsOptionalNotNull()
  @IsEnvMap()
  env?: Record<string, string>;

  @ApiPropertyOptional({
    type: ResourcesDto,
    example: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
  })
  @IsOptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => ResourcesDto)
  resources?: ResourcesDto;

  @ApiPropertyOptional({
    example: { team: 'payments' },
    type: 'object',
    description: 'Kubernetes labels: qualified names ([DNS-1123 subdomain/]name) to label values',
    ...keysMatch(QUALIFIED_NAME),
    additionalProperties: { type: 'string', maxLength: 63, pattern: LABEL_VALUE_PATTERN },
  })
  @IsOptionalNotNull()
  @IsLabelMap()
  labels?: Record<string, string>;

  @ApiPropertyOptional({
    example: { 'example.com/owner': 'alice' },
    type: 'object',
    description: 'Kubernetes annotations: qualified names to any text; at most 256 KiB in all',
    ...keysMatch(QUALIFIED_NAME),
    additionalProperties: { type: 'string' },
  })
  @IsOptionalNotNull()
  @IsAnnotationMap()
  annotations?: Record<string, string>;
}

export class CreateDeploymentDto extends DeploymentSpecDto {
  @ApiProperty({
    example: 'default',
    description: 'DNS-1123 label; must be allowed by MANAGED_NAMESPACES',
    ...DNS_LABEL,
  })
  @IsDns1123Label()
  namespace!: string;

  @ApiProperty({ example: 'web', description: 'DNS-1123 label', ...DNS_LABEL })
  @IsDns1123Label()
  name!: string;
}

/** PATCH: any subset of these; each given field replaces the current value whole. Null is refused, not dropped. */
export class PatchDeploymentDto extends PartialType(OmitType(DeploymentSpecDto, ['containerPort'] as const), {
  skipNullProperties: false,
}) {}

export class TargetParams {
  @ApiProperty({ example: 'default', ...DNS_LABEL })
  @IsDns1123Label()
  namespace!: string;

  @ApiProperty({ example: 'web', ...DNS_LABEL })
  @IsDns1123Label()
  name!: string;
}

export class RequestIdParams {
  @ApiProperty({
    example: '0b9a6a57-4c79-4c8b-9a8e-3f5b3e0f6a41',
    description: 'An Idempotency-Key or a UUID',
    pattern: REQUEST_ID.source,
  })
  @IsRequestId()
  requestId!: string;
}
