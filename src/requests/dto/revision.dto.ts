import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import type { DeploymentSpec } from '../../domain/deployment-spec.js';
import { Operation, SpecMode } from '../deployment-request.entity.js';
import { RequestedByDto, RollbackOfDto } from './request-record.dto.js';
import type { Line, Revision, RevisionHistory } from '../revisions.js';

/** The largest revision number a body may name (the column is a PostgreSQL int). */
const MAX_REVISION = 2_147_483_647;

export class RollbackBodyDto {
  @ApiProperty({
    type: 'integer',
    example: 1,
    minimum: 1,
    maximum: MAX_REVISION,
    description: 'The revision to restore',
  })
  @IsInt()
  @Min(1)
  @Max(MAX_REVISION)
  revision!: number;
}

export class RevisionDto {
  @ApiProperty({ type: 'integer', example: 3, minimum: 1, description: 'Numbered from 1 across every line' })
  revision!: number;

  @ApiProperty({
    type: 'integer',
    example: 1,
    minimum: 1,
    description: 'Which life of the Deployment: a CREATE starts line n+1, a DELETE ends line n',
  })
  line!: number;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { image: 'nginx:1.27', replicas: 2 },
    description: 'The whole desired spec in effect after this change (a PATCH merged over the revision before it)',
  })
  spec!: DeploymentSpec;

  @ApiProperty({ example: '0b9a6a57-4c79-4c8b-9a8e-3f5b3e0f6a41', description: 'The request that made it' })
  requestId!: string;

  @ApiProperty({ enum: [Operation.CREATE, Operation.UPDATE], example: Operation.UPDATE })
  operation!: Operation;

  @ApiProperty({
    enum: SpecMode,
    example: SpecMode.REPLACE,
    description: 'REPLACE: CREATE, PUT or rollback; MERGE: PATCH',
  })
  specMode!: SpecMode;

  @ApiProperty({
    type: RequestedByDto,
    nullable: true,
    description: 'Who asked; null only on requests accepted before API keys existed',
  })
  requestedBy!: RequestedByDto | null;

  @ApiProperty({ example: '2026-11-28T07:30:00.450Z', description: 'When the change succeeded' })
  completedAt!: string;

  @ApiPropertyOptional({ type: RollbackOfDto, description: 'When this revision is a rollback: the one it restored' })
  rollbackOf?: RollbackOfDto;
}

export class RevisionLineDto {
  @ApiProperty({ type: 'integer', example: 1, minimum: 1 })
  line!: number;

  @ApiProperty({ type: 'integer', example: 1, minimum: 1 })
  fromRevision!: number;

  @ApiProperty({ type: 'integer', example: 3, minimum: 1 })
  toRevision!: number;

  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: 'The DELETE request that ended the line; null while the line lives',
  })
  deletedByRequestId!: string | null;
}

export class RevisionHistoryDto {
  @ApiProperty({ example: 'default' })
  namespace!: string;

  @ApiProperty({ example: 'web' })
  name!: string;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    example: 3,
    description: 'The revision in effect now; null when the last line ended with a DELETE',
  })
  current!: number | null;

  @ApiProperty({ type: [RevisionDto], description: 'Oldest first' })
  items!: RevisionDto[];

  @ApiProperty({ type: [RevisionLineDto], description: 'Each life of the Deployment, oldest first' })
  lines!: RevisionLineDto[];
}

function toRevision(r: Revision): RevisionDto {
  const e = r.request;
  return {
    revision: r.revision,
    line: r.line,
    spec: r.spec,
    requestId: e.requestId,
    operation: e.operation,
    specMode: e.specMode,
    requestedBy: e.requestedByName === null ? null : { keyId: e.requestedByKeyId, name: e.requestedByName },
    completedAt: (e.completedAt ?? e.updatedAt).toISOString(),
    ...(e.rollbackOfRevision != null && e.rollbackOfRequestId
      ? { rollbackOf: { revision: e.rollbackOfRevision, requestId: e.rollbackOfRequestId } }
      : {}),
  };
}

const toLine = (l: Line): RevisionLineDto => ({
  line: l.line,
  fromRevision: l.fromRevision,
  toRevision: l.toRevision,
  deletedByRequestId: l.deletedBy?.requestId ?? null,
});

export function toRevisionHistory(namespace: string, name: string, h: RevisionHistory): RevisionHistoryDto {
  return { namespace, name, current: h.current, items: h.revisions.map(toRevision), lines: h.lines.map(toLine) };
}
