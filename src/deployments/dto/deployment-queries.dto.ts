import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsEnum, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import {
  DNS_LABEL,
  DNS_SUBDOMAIN,
  IsDns1123Label,
  IsDns1123Subdomain,
  IsLabelTerms,
  LABEL_TERM_PATTERN,
} from '../../domain/validators.js';
import { PageQuery } from '../../http/pagination.js';
import { RolloutState } from '../deployment.entity.js';

const toBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);
const toList = ({ value }: { value: unknown }) => (typeof value === 'string' ? [value] : value);

export class ListDeploymentsQuery extends PageQuery {
  @ApiPropertyOptional({ example: 'default', ...DNS_LABEL })
  @IsOptional()
  @IsDns1123Label()
  namespace?: string;

  @ApiPropertyOptional({
    type: [String],
    items: { type: 'string', maxLength: 400, pattern: LABEL_TERM_PATTERN },
    maxItems: 10,
    example: ['team=payments'],
    description: 'key=value; repeat the parameter to require several labels',
  })
  @IsOptional()
  @Transform(toList)
  @IsArray()
  @ArrayMaxSize(10)
  @IsString({ each: true })
  @MaxLength(400, { each: true })
  @IsLabelTerms()
  label?: string[];

  @ApiPropertyOptional({ enum: RolloutState, example: RolloutState.FAILED })
  @IsOptional()
  @IsEnum(RolloutState, { message: `rollout must be one of ${Object.values(RolloutState).join(', ')}` })
  rollout?: RolloutState;

  @ApiPropertyOptional({
    type: Boolean,
    example: true,
    description: 'Only Deployments the reconciler found drifted (true) or not (false)',
  })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'drifted must be true or false' })
  drifted?: boolean;

  @ApiPropertyOptional({
    type: Boolean,
    default: false,
    example: false,
    description: 'Also list Deployments deleted from Kubernetes',
  })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'includeDeleted must be true or false' })
  includeDeleted?: boolean;
}

export const CONSISTENCY = ['eventual', 'strong'] as const;
export type Consistency = (typeof CONSISTENCY)[number];

export class GetDeploymentQuery {
  @ApiPropertyOptional({
    enum: CONSISTENCY,
    default: 'eventual',
    example: 'strong',
    description: 'eventual: from the mirror; strong: read from Kubernetes now',
  })
  @IsOptional()
  @IsIn(CONSISTENCY, { message: 'consistency must be eventual or strong' })
  consistency?: Consistency;
}

/** Mirrored Deployments may carry any valid name (a DNS-1123 subdomain), not only the labels we create. */
export class DeploymentParams {
  @ApiProperty({ example: 'default', ...DNS_LABEL })
  @IsDns1123Label()
  namespace!: string;

  @ApiProperty({ example: 'web', ...DNS_SUBDOMAIN })
  @IsDns1123Subdomain()
  name!: string;
}
