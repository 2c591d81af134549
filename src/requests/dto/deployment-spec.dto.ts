import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsInt,
  IsNotEmpty,
  IsObject,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  Validate,
  ValidateNested,
} from 'class-validator';
import {
  DNS1123_LABEL,
  IMAGE_REFERENCE,
  IsAnnotationMap,
  IsEnvMap,
  IsLabelMap,
  IsOptionalNotNull,
  QUANTITY,
  REQUEST_ID,
} from '../../common/k8s-validators.js';
import { MaxReplicasConstraint } from './max-replicas.constraint.js';

const QUANTITY_MESSAGE = '$property must be a Kubernetes quantity such as 250m, 1, 512Mi or 2Gi';

export class QuantitiesDto {
  @ApiPropertyOptional({ example: '250m', description: 'Kubernetes quantity' })
  @IsOptionalNotNull()
  @IsString()
  @Matches(QUANTITY, { message: QUANTITY_MESSAGE })
  cpu?: string;

  @ApiPropertyOptional({ example: '256Mi', description: 'Kubernetes quantity' })
  @IsOptionalNotNull()
  @IsString()
  @Matches(QUANTITY, { message: QUANTITY_MESSAGE })
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
  @ApiProperty({ example: 'nginx:1.27', description: 'Container image reference, no whitespace' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  @Matches(IMAGE_REFERENCE, { message: 'image must be an image reference with no whitespace' })
  image!: string;

  @ApiProperty({ example: 2, minimum: 0, description: 'Desired pod count, 0 to MAX_REPLICAS' })
  @IsInt()
  @Min(0)
  @Validate(MaxReplicasConstraint)
  replicas!: number;

  @ApiPropertyOptional({ example: 8080, minimum: 1, maximum: 65535 })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(65535)
  containerPort?: number;

  @ApiPropertyOptional({ example: { LOG_LEVEL: 'info' }, type: 'object', additionalProperties: { type: 'string' } })
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

  @ApiPropertyOptional({ example: { team: 'payments' }, type: 'object', additionalProperties: { type: 'string' } })
  @IsOptionalNotNull()
  @IsLabelMap()
  labels?: Record<string, string>;

  @ApiPropertyOptional({
    example: { 'example.com/owner': 'alice' },
    type: 'object',
    additionalProperties: { type: 'string' },
  })
  @IsOptionalNotNull()
  @IsAnnotationMap()
  annotations?: Record<string, string>;
}

export class CreateDeploymentDto extends DeploymentSpecDto {
  @ApiProperty({ example: 'default', description: 'DNS-1123 label; must be allowed by MANAGED_NAMESPACES' })
  @IsString()
  @MaxLength(63)
  @Matches(DNS1123_LABEL, { message: 'namespace must be a DNS-1123 label (lowercase alphanumerics and "-")' })
  namespace!: string;

  @ApiProperty({ example: 'web', description: 'DNS-1123 label' })
  @IsString()
  @MaxLength(63)
  @Matches(DNS1123_LABEL, { message: 'name must be a DNS-1123 label (lowercase alphanumerics and "-")' })
  name!: string;
}

/** PATCH: any subset of these; each given field replaces the current value whole. Null is refused, not dropped. */
export class PatchDeploymentDto extends PartialType(OmitType(DeploymentSpecDto, ['containerPort'] as const), {
  skipNullProperties: false,
}) {}

export class TargetParams {
  @ApiProperty({ example: 'default' })
  @IsString()
  @MaxLength(63)
  @Matches(DNS1123_LABEL, { message: 'namespace must be a DNS-1123 label (lowercase alphanumerics and "-")' })
  namespace!: string;

  @ApiProperty({ example: 'web' })
  @IsString()
  @MaxLength(63)
  @Matches(DNS1123_LABEL, { message: 'name must be a DNS-1123 label (lowercase alphanumerics and "-")' })
  name!: string;
}

export class RequestIdParams {
  @ApiProperty({ example: '0b9a6a57-4c79-4c8b-9a8e-3f5b3e0f6a41', description: 'An Idempotency-Key or a UUID' })
  @IsString()
  @Matches(REQUEST_ID, { message: 'requestId must be 1-255 visible ASCII characters (no spaces)' })
  requestId!: string;
}
