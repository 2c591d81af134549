import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { PageQuery } from '../../http/pagination.js';
import type { AuditEntry } from '../audit.repository.js';

export class AuditQuery extends PageQuery {
  @ApiPropertyOptional({ description: "An API key's id or name", example: 'ops', maxLength: 255 })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  actor?: string;

  @ApiPropertyOptional({ example: 'default', maxLength: 253 })
  @IsOptional()
  @IsString()
  @MaxLength(253)
  namespace?: string;

  @ApiPropertyOptional({
    description: '`<controller>.<handler>` as entries show it',
    example: 'deploymentWrites.create',
    pattern: '^[A-Za-z0-9_.]{1,100}$',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_.]{1,100}$/, { message: 'action must be an action name such as deploymentWrites.create' })
  action?: string;

  @ApiPropertyOptional({
    description: 'Entries at or after this time (ISO 8601)',
    example: '2026-11-28T00:00:00Z',
    format: 'date-time',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 date-time' })
  since?: string;
}

export class PurgeAuditDto {
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    maximum: 36_500,
    example: 90,
    description: 'Delete entries older than this many days',
  })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(36_500)
  olderThanDays!: number;
}

export class PurgeResultDto {
  @ApiProperty({ example: 1234 }) deleted!: number;
  @ApiProperty({ example: '2026-08-30T08:00:00.000Z', description: 'Entries before this time were deleted' })
  before!: string;
}

export class AuditActorDto {
  @ApiProperty({ example: '0b6c1c43-52f4-4f1f-8d38-0f7d7a4a3f10' }) keyId!: string;
  @ApiProperty({ example: 'ops' }) name!: string;
}

export class AuditEntryDto {
  @ApiProperty({ example: 1042 }) id!: number;
  @ApiProperty({ example: '2026-11-28T08:00:00.000Z' }) at!: string;
  @ApiProperty({ type: AuditActorDto, nullable: true, description: 'null: no valid API key' })
  actor!: AuditActorDto | null;
  @ApiProperty({ example: 'POST' }) method!: string;
  @ApiProperty({ example: '/v1/deployments', description: 'The route template (the raw path when none matched)' })
  route!: string;
  @ApiProperty({ example: 'deploymentWrites.create' }) action!: string;
  @ApiProperty({ type: String, example: 'default', nullable: true }) namespace!: string | null;
  @ApiProperty({ type: String, example: 'web', nullable: true }) name!: string | null;
  @ApiProperty({ example: 202 }) statusCode!: number;
  @ApiProperty({ type: String, example: null, nullable: true, description: 'The error code of a refused call' })
  errorCode!: string | null;
  @ApiProperty({ type: String, example: '6f1c0c3e-2b1f-4c1e-9a55-0d1f3c2b7a10', nullable: true }) requestId!:
    string | null;
  @ApiProperty({
    type: String,
    example: '10.0.0.7',
    nullable: true,
    description: 'The caller (TRUST_PROXY decides proxies)',
  })
  sourceIp!: string | null;
  @ApiPropertyOptional({ type: Object, additionalProperties: true, example: { olderThanDays: 90, deleted: 1234 } })
  details?: Record<string, unknown>;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto] }) items!: AuditEntryDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as cursor for the next (older) page' })
  nextCursor!: string | null;
}

export function toAuditEntryDto(e: AuditEntry): AuditEntryDto {
  return {
    id: e.id,
    at: e.at.toISOString(),
    actor: e.actorKeyId ? { keyId: e.actorKeyId, name: e.actorName ?? '' } : null,
    method: e.method,
    route: e.route,
    action: e.action,
    namespace: e.namespace,
    name: e.name,
    statusCode: e.statusCode,
    errorCode: e.errorCode,
    requestId: e.requestId,
    sourceIp: e.sourceIp,
    ...(e.details ? { details: e.details } : {}),
  };
}
