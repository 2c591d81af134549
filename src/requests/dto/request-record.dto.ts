import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { DeploymentRequestEntity, Operation, RequestStatus } from '../deployment-request.entity.js';
import type { DeploymentSpecPatch } from '../../domain/deployment-spec.js';
import { RolloutReceipt, RolloutReceiptState } from '../../domain/rollout-receipt.js';

export class RequestErrorDto {
  @ApiProperty({ example: 'Forbidden' })
  code!: string;

  @ApiProperty({ example: 'deployment default/web is not managed by k8s-deployment-manager' })
  message!: string;
}

export class RequestResultDto {
  @ApiProperty({
    type: 'integer',
    nullable: true,
    example: 3,
    description: 'metadata.generation of the Deployment after the change',
  })
  generation!: number | null;

  @ApiProperty({ type: String, nullable: true, example: '48213' })
  resourceVersion!: string | null;
}

export class RequestedByDto {
  @ApiProperty({
    type: String,
    nullable: true,
    example: '3f6d2a8e-5b7c-4e1f-9d0a-2c4b6e8f1a3d',
    description: "The API key's id; null for the reconciler's self-heal",
  })
  keyId!: string | null;

  @ApiProperty({
    example: 'ci-payments',
    description: "The API key's name when the request was sent; `reconciler` for self-heal",
  })
  name!: string;
}

export class RollbackOfDto {
  @ApiProperty({ type: 'integer', example: 1, minimum: 1, description: 'The revision this request restores' })
  revision!: number;

  @ApiProperty({ example: '0b9a6a57-4c79-4c8b-9a8e-3f5b3e0f6a41', description: 'The request that made that revision' })
  requestId!: string;
}

export class ReplicaCountsDto {
  @ApiProperty({ type: 'integer', example: 2, description: 'spec.replicas' })
  desired!: number;

  @ApiProperty({ type: 'integer', example: 2, description: 'status.updatedReplicas' })
  updated!: number;

  @ApiProperty({ type: 'integer', example: 2, description: 'status.readyReplicas' })
  ready!: number;

  @ApiProperty({ type: 'integer', example: 2, description: 'status.availableReplicas' })
  available!: number;
}

export class RolloutReceiptDto {
  @ApiProperty({
    enum: RolloutReceiptState,
    example: RolloutReceiptState.COMPLETE,
    description:
      'WAITING: written, the controller has not observed it yet; PROGRESSING; COMPLETE; FAILED: ' +
      'ProgressDeadlineExceeded for this generation; SUPERSEDED: a newer generation was written (or the ' +
      'Deployment deleted) before this one completed; GONE: a DELETE whose Deployment is gone. ' +
      'COMPLETE, FAILED, SUPERSEDED and GONE are final',
  })
  state!: RolloutReceiptState;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    example: 3,
    description: 'metadata.generation our write produced (a DELETE: the one it deleted; null if nothing was there)',
  })
  generation!: number | null;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    example: 3,
    description: 'status.observedGeneration when last seen',
  })
  observedGeneration!: number | null;

  @ApiProperty({ type: ReplicaCountsDto, nullable: true, description: 'Replica counts when last seen' })
  replicas!: ReplicaCountsDto | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'NewReplicaSetAvailable',
    description: "The Progressing condition's reason when last seen",
  })
  reason!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'ReplicaSet "web-5d4f8c7b9" has successfully progressed.',
    description: "The Progressing condition's message when last seen",
  })
  message!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '2026-11-28T07:30:04.000Z',
    description: 'When it reached a final state',
  })
  completedAt!: string | null;
}

export class RequestRecordDto {
  @ApiProperty({
    example: '0b9a6a57-4c79-4c8b-9a8e-3f5b3e0f6a41',
    description:
      'A server-assigned UUID, never the Idempotency-Key (records accepted before API keys existed may hold the key they were sent with)',
  })
  requestId!: string;

  @ApiProperty({ enum: Operation, example: Operation.CREATE })
  operation!: Operation;

  @ApiProperty({ example: 'default' })
  namespace!: string;

  @ApiProperty({ example: 'web' })
  name!: string;

  @ApiProperty({
    type: 'object',
    nullable: true,
    additionalProperties: true,
    example: { image: 'nginx:1.27', replicas: 2 },
    description: 'The desired spec (CREATE, PUT), only the given fields (PATCH), or null (DELETE)',
  })
  spec!: DeploymentSpecPatch | null;

  @ApiProperty({ enum: RequestStatus, example: RequestStatus.QUEUED })
  status!: RequestStatus;

  @ApiProperty({ example: 1, description: 'How many times a worker has tried to apply it' })
  attempts!: number;

  @ApiPropertyOptional({
    type: RequestErrorDto,
    description: 'Why it failed (FAILURE), or why the last attempt failed',
  })
  error?: RequestErrorDto;

  @ApiProperty({
    example: false,
    description: 'True once retries ran out and the message went to the dead-letter stream',
  })
  deadLettered!: boolean;

  @ApiProperty({ example: '2026-11-28T07:30:00.000Z' })
  createdAt!: string;

  @ApiProperty({ example: '2026-11-28T07:30:00.120Z' })
  updatedAt!: string;

  @ApiPropertyOptional({ example: '2026-11-28T07:30:00.450Z' })
  completedAt?: string;

  @ApiPropertyOptional({ type: RequestResultDto })
  result?: RequestResultDto;

  @ApiProperty({
    type: RequestedByDto,
    nullable: true,
    description: 'Who sent it: the API key (id and name); null only on records accepted before API keys existed',
  })
  requestedBy!: RequestedByDto | null;

  @ApiPropertyOptional({
    type: RollbackOfDto,
    description: 'Only on a rollback (POST /v1/deployments/{namespace}/{name}/rollback): the revision it restores',
  })
  rollbackOf?: RollbackOfDto;

  @ApiProperty({
    type: RolloutReceiptDto,
    nullable: true,
    description:
      'The rollout receipt: what Kubernetes made of the change (CREATE, UPDATE) or whether the Deployment is gone ' +
      '(DELETE). Null until the request succeeds, and on records from before receipts',
  })
  rollout!: RolloutReceiptDto | null;
}

export class RequestPageDto {
  @ApiProperty({ type: [RequestRecordDto] })
  items!: RequestRecordDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'MTIz',
    description: 'Pass as cursor for the next page; null on the last page',
  })
  nextCursor!: string | null;
}

export function toRequestRecord(e: DeploymentRequestEntity): RequestRecordDto {
  return {
    requestId: e.requestId,
    operation: e.operation,
    namespace: e.namespace,
    name: e.name,
    spec: e.spec,
    status: e.status,
    attempts: e.attempts,
    ...(e.errorCode ? { error: { code: e.errorCode, message: e.errorMessage ?? '' } } : {}),
    deadLettered: e.deadLettered,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
    ...(e.completedAt ? { completedAt: e.completedAt.toISOString() } : {}),
    ...(e.resultGeneration != null || e.resultResourceVersion
      ? { result: { generation: e.resultGeneration, resourceVersion: e.resultResourceVersion } }
      : {}),
    requestedBy: e.requestedByName === null ? null : { keyId: e.requestedByKeyId, name: e.requestedByName },
    ...(e.rollbackOfRevision != null && e.rollbackOfRequestId
      ? { rollbackOf: { revision: e.rollbackOfRevision, requestId: e.rollbackOfRequestId } }
      : {}),
    rollout: toRolloutReceipt(e.rollout),
  };
}

/** The stored receipt, field by field (a stored document never adds fields to the answer). */
export function toRolloutReceipt(r: RolloutReceipt | null): RolloutReceiptDto | null {
  if (!r) return null;
  return {
    state: r.state,
    generation: r.generation ?? null,
    observedGeneration: r.observedGeneration ?? null,
    replicas: r.replicas
      ? {
          desired: r.replicas.desired,
          updated: r.replicas.updated,
          ready: r.replicas.ready,
          available: r.replicas.available,
        }
      : null,
    reason: r.reason ?? null,
    message: r.message ?? null,
    completedAt: r.completedAt ?? null,
  };
}
