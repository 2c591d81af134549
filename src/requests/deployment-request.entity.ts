import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../database/column-transformers.js';
import type { DeploymentSpecPatch } from '../domain/deployment-spec.js';
import type { RolloutReceipt } from '../domain/rollout-receipt.js';

export enum Operation {
  CREATE = 'CREATE',
  UPDATE = 'UPDATE',
  DELETE = 'DELETE',
}

export enum RequestStatus {
  CREATED = 'CREATED',
  QUEUED = 'QUEUED',
  PROCESSING = 'PROCESSING',
  SUCCESS = 'SUCCESS',
  FAILURE = 'FAILURE',
}

export const TERMINAL_STATUSES: readonly RequestStatus[] = [RequestStatus.SUCCESS, RequestStatus.FAILURE];

/** How a request changes the spec: a whole replacement (CREATE, PUT) or a merge (PATCH). */
export enum SpecMode {
  REPLACE = 'REPLACE',
  MERGE = 'MERGE',
}

@Entity({ name: 'deployment_requests' })
export class DeploymentRequestEntity {
  /** Server-assigned: a UUID (rows accepted before issue 10 may hold the client's Idempotency-Key). */
  @PrimaryColumn({ name: 'request_id', type: 'varchar', length: 255 })
  requestId!: string;

  /** Acceptance order; per-deployment ordering and cursors follow it. */
  @Column({ type: 'bigint', insert: false, update: false, transformer: bigintAsNumber })
  seq!: number;

  @Column({ type: 'varchar', length: 10 })
  operation!: Operation;

  @Column({ type: 'varchar', length: 63 })
  namespace!: string;

  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Column({ type: 'jsonb', nullable: true })
  spec!: DeploymentSpecPatch | null;

  @Column({ name: 'spec_mode', type: 'varchar', length: 10 })
  specMode!: SpecMode;

  /** sha256 of operation, target and body: detects an Idempotency-Key reused for another body. */
  @Column({ name: 'body_hash', type: 'char', length: 64 })
  bodyHash!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: RequestStatus;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  /** Bumped by a manual retry so the new message is not dropped by JetStream's duplicate window. */
  @Column({ type: 'int', default: 0 })
  generation!: number;

  @Column({ name: 'error_code', type: 'varchar', length: 64, nullable: true })
  errorCode!: string | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage!: string | null;

  @Column({ name: 'dead_lettered', type: 'boolean', default: false })
  deadLettered!: boolean;

  @Column({ name: 'result_generation', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  resultGeneration!: number | null;

  @Column({ name: 'result_resource_version', type: 'varchar', length: 64, nullable: true })
  resultResourceVersion!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', insert: false, update: false })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', insert: false })
  updatedAt!: Date;

  @Column({ name: 'queued_at', type: 'timestamptz', nullable: true })
  queuedAt!: Date | null;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;

  @Column({ name: 'deadline_at', type: 'timestamptz' })
  deadlineAt!: Date;

  /** Set after a transient failure: no worker tries the request again before then. */
  @Column({ name: 'retry_at', type: 'timestamptz', nullable: true })
  retryAt!: Date | null;

  /** The API call's X-Request-Id (given or made), carried in every message of the request for log correlation. */
  @Column({ name: 'correlation_id', type: 'varchar', length: 128, nullable: true })
  correlationId!: string | null;

  /** The API key that sent it; null for the reconciler's self-heal and for rows from before API keys. */
  @Column({ name: 'requested_by_key_id', type: 'varchar', length: 64, nullable: true })
  requestedByKeyId!: string | null;

  /** That key's name when it was sent (`reconciler` for self-heal); null only on rows from before API keys. */
  @Column({ name: 'requested_by_name', type: 'varchar', length: 255, nullable: true })
  requestedByName!: string | null;

  /** The client's Idempotency-Key, unique per API key (requested_by_key_id). */
  @Column({ name: 'idempotency_key', type: 'varchar', length: 255, nullable: true })
  idempotencyKey!: string | null;

  /** A rollback: the revision number it restores; null on every other request. */
  @Column({ name: 'rollback_of_revision', type: 'int', nullable: true })
  rollbackOfRevision!: number | null;

  /** A rollback: the request that made the revision it restores. */
  @Column({ name: 'rollback_of_request_id', type: 'varchar', length: 255, nullable: true })
  rollbackOfRequestId!: string | null;

  /** The rollout receipt: null until the request succeeds (and on rows from before receipts). */
  @Column({ type: 'jsonb', nullable: true })
  rollout!: RolloutReceipt | null;
}
