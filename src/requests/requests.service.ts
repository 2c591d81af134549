import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { canonicalJson, sha256 } from '../common/canonical-json.js';
import { currentCorrelationId } from '../common/logging.js';
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DeploymentRequestEntity, Operation, RequestStatus, SpecMode } from './deployment-request.entity.js';
import type { DeploymentSpecPatch } from '../domain/deployment-spec.js';
import { NamespacePolicy } from '../domain/namespace-policy.js';
import type { Principal } from '../domain/principal.js';
import { RequestQueue } from './request-queue.js';
import { RequestsRepository } from './requests.repository.js';

export interface SubmitCommand {
  operation: Operation;
  namespace: string;
  name: string;
  spec: DeploymentSpecPatch | null;
  specMode: SpecMode;
  idempotencyKey?: string;
  /** The API key that sends it, or the reconciler's own self-heal (no key, no scope). */
  requester: Principal | typeof RECONCILER;
  /** A rollback: the revision it restores and the request that made it. */
  rollbackOf?: { revision: number; requestId: string };
}

/** The reconciler as a requester: its self-heal requests carry no API key. */
export const RECONCILER = 'reconciler';

export interface Submitted {
  request: DeploymentRequestEntity;
  /** True when an Idempotency-Key matched an earlier identical request. */
  replayed: boolean;
}

const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/**
 * Intake: record the request, then hand it to the queue. The record is committed before
 * anything is published, so a request is never lost: if NATS is down it stays CREATED and
 * the outbox relay (or the reconciler) publishes it later.
 */
@Injectable()
export class RequestsService {
  constructor(
    private readonly config: AppConfig,
    private readonly repo: RequestsRepository,
    private readonly queue: RequestQueue,
    private readonly namespaces: NamespacePolicy,
    private readonly metrics: MetricsService,
  ) {}

  async submit(cmd: SubmitCommand): Promise<Submitted> {
    // The key's scope first: it may only narrow MANAGED_NAMESPACES, and both refusals are 403s.
    if (cmd.requester !== RECONCILER) assertWritable(cmd.requester, cmd.namespace);
    this.namespaces.assertAllowed(cmd.namespace);
    const requestedBy =
      cmd.requester === RECONCILER
        ? { keyId: null, name: RECONCILER }
        : { keyId: cmd.requester.keyId, name: cmd.requester.keyName };
    const bodyHash = sha256(
      canonicalJson({
        operation: cmd.operation,
        namespace: cmd.namespace,
        name: cmd.name,
        specMode: cmd.specMode,
        spec: cmd.spec,
        // Only rollbacks hash it, so every other body keeps the hash it always had.
        ...(cmd.rollbackOf ? { rollbackOf: cmd.rollbackOf } : {}),
      }),
    );
    const inserted = await this.repo.insertIfAbsent({
      requestId: randomUUID(),
      operation: cmd.operation,
      namespace: cmd.namespace,
      name: cmd.name,
      spec: cmd.spec,
      specMode: cmd.specMode,
      bodyHash,
      deadlineMs: this.config.REQUEST_DEADLINE_MS,
      requestedBy,
      idempotencyKey: cmd.idempotencyKey ?? null,
      // The API call's X-Request-Id: its messages carry it, so the worker's lines match the API's.
      correlationId: currentCorrelationId(),
      rollbackOf: cmd.rollbackOf ?? null,
    });
    if (!inserted) {
      return { request: await this.replay(requestedBy.keyId, cmd.idempotencyKey!, bodyHash), replayed: true };
    }

    this.metrics.requestsAccepted.inc({ operation: cmd.operation });
    await this.queue.enqueue(inserted);
    return { request: inserted, replayed: false };
  }

  /** One request; outside the caller's scope it is a 404 exactly like an absent one. */
  async get(requestId: string, principal?: Principal): Promise<DeploymentRequestEntity> {
    const r = await this.repo.findById(requestId, principal?.scope);
    if (!r) throw new DomainError(ErrorCode.RequestNotFound, `request "${requestId}" not found`);
    return r;
  }

  /** Newest first, only in the caller's scope. */
  async list(
    principal: Principal,
    filter: {
      namespace?: string;
      name?: string;
      status?: RequestStatus;
      deadLettered?: boolean;
      limit?: number;
      cursor?: string;
    },
  ): Promise<{ items: DeploymentRequestEntity[]; nextCursor: string | null }> {
    const limit = filter.limit ?? 50;
    const items = await this.repo.list({
      ...filter,
      scope: principal.scope,
      beforeSeq: decodeCursor(filter.cursor, isSeq),
      limit: limit + 1,
    });
    const more = items.length > limit;
    const page = items.slice(0, limit);
    return { items: page, nextCursor: more ? encodeCursor(page[page.length - 1].seq) : null };
  }

  /**
   * Queues a FAILURE request again as a new attempt (e.g. after its dead letter was looked at).
   * Refused (409 RetrySuperseded, naming the newer request) once a newer request of the same
   * deployment has succeeded or is open: re-applying the old intent would undo it (an old
   * DELETE would delete the recreated Deployment). Newer FAILUREs do not block a retry.
   */
  async retry(requestId: string, principal: Principal): Promise<DeploymentRequestEntity> {
    // Out of scope: 404 like an absent request (a record's namespace never changes, so this holds).
    await this.get(requestId, principal);
    // The reopen checks atomically; the reads after a refusal only explain it. They may see a
    // state that has moved on since (a newer request just failed): then try again.
    for (let attempt = 1; ; attempt++) {
      const reopened = await this.repo.reopenForRetry(requestId, this.config.REQUEST_DEADLINE_MS);
      if (reopened) {
        await this.queue.enqueue(reopened);
        return reopened;
      }
      const current = await this.get(requestId);
      if (current.status !== RequestStatus.FAILURE) {
        throw new DomainError(
          ErrorCode.RequestNotRetryable,
          `request "${requestId}" is ${current.status}; only FAILURE requests can be retried`,
        );
      }
      const newer = await this.repo.newerStandingRequest(current);
      if (newer) throw this.superseded(current, newer);
      if (attempt === 3)
        throw new DomainError(ErrorCode.DependencyUnavailable, `retry of "${requestId}" kept racing; try again`);
    }
  }

  private superseded(current: DeploymentRequestEntity, newer: DeploymentRequestEntity): DomainError {
    const requestId = current.requestId;
    return new DomainError(
      ErrorCode.RetrySuperseded,
      `request "${requestId}" cannot be retried: newer request "${newer.requestId}" for ${current.namespace}/${current.name} ` +
        `is ${newer.status}; retrying would re-apply older intent over it, so send a new request instead`,
      { newerRequestId: newer.requestId, newerStatus: newer.status },
    );
  }

  /** The earlier request this key sent with this Idempotency-Key: the same body replays it, another is a 422. */
  private async replay(
    keyId: string | null,
    idempotencyKey: string,
    bodyHash: string,
  ): Promise<DeploymentRequestEntity> {
    const existing = await this.repo.findByIdempotencyKey(keyId, idempotencyKey);
    if (!existing) throw new Error(`Idempotency-Key "${idempotencyKey}" conflicted but its request is gone`);
    if (existing.bodyHash !== bodyHash) {
      throw new DomainError(
        ErrorCode.IdempotencyKeyReused,
        `Idempotency-Key "${idempotencyKey}" was already used for a different request body`,
      );
    }
    return existing;
  }
}

/** Writes need the namespace in the key's scope: a 403 naming both, before MANAGED_NAMESPACES is asked. */
export function assertWritable(principal: Principal, namespace: string) {
  if (principal.scope.covers(namespace)) return;
  throw new DomainError(
    ErrorCode.PermissionDenied,
    `API key "${principal.keyName}" may not write to namespace "${namespace}": its scope is ${principal.scope.patterns.join(', ')}`,
    { namespace, scope: [...principal.scope.patterns] },
  );
}
