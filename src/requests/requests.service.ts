import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { canonicalJson, sha256 } from '../common/canonical-json.js';
import { currentCorrelationId } from '../common/logging.js';
import { decodeCursor, encodeCursor } from '../http/pagination.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DeploymentRequestEntity, Operation, RequestStatus, SpecMode } from './deployment-request.entity.js';
import type { DeploymentSpecPatch } from '../domain/deployment-spec.js';
import { NamespacePolicy } from '../domain/namespace-policy.js';
import { RequestQueue } from './request-queue.js';
import { RequestsRepository } from './requests.repository.js';

export interface SubmitCommand {
  operation: Operation;
  namespace: string;
  name: string;
  spec: DeploymentSpecPatch | null;
  specMode: SpecMode;
  idempotencyKey?: string;
}

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
    this.namespaces.assertAllowed(cmd.namespace);
    const bodyHash = sha256(
      canonicalJson({
        operation: cmd.operation,
        namespace: cmd.namespace,
        name: cmd.name,
        specMode: cmd.specMode,
        spec: cmd.spec,
      }),
    );
    const requestId = cmd.idempotencyKey ?? randomUUID();
    const inserted = await this.repo.insertIfAbsent({
      requestId,
      operation: cmd.operation,
      namespace: cmd.namespace,
      name: cmd.name,
      spec: cmd.spec,
      specMode: cmd.specMode,
      bodyHash,
      deadlineMs: this.config.REQUEST_DEADLINE_MS,
      // The API call's X-Request-Id: its messages carry it, so the worker's lines match the API's.
      correlationId: currentCorrelationId(),
    });
    if (!inserted) return { request: await this.replay(requestId, bodyHash), replayed: true };

    this.metrics.requestsAccepted.inc({ operation: cmd.operation });
    await this.queue.enqueue(inserted);
    return { request: inserted, replayed: false };
  }

  async get(requestId: string): Promise<DeploymentRequestEntity> {
    const r = await this.repo.findById(requestId);
    if (!r) throw new DomainError(ErrorCode.RequestNotFound, `request "${requestId}" not found`);
    return r;
  }

  async list(filter: {
    namespace?: string;
    name?: string;
    status?: RequestStatus;
    deadLettered?: boolean;
    limit?: number;
    cursor?: string;
  }): Promise<{ items: DeploymentRequestEntity[]; nextCursor: string | null }> {
    const limit = filter.limit ?? 50;
    const items = await this.repo.list({ ...filter, beforeSeq: decodeCursor(filter.cursor, isSeq), limit: limit + 1 });
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
  async retry(requestId: string): Promise<DeploymentRequestEntity> {
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

  private async replay(requestId: string, bodyHash: string): Promise<DeploymentRequestEntity> {
    const existing = await this.get(requestId);
    if (existing.bodyHash !== bodyHash) {
      throw new DomainError(
        ErrorCode.IdempotencyKeyReused,
        `Idempotency-Key "${requestId}" was already used for a different request body`,
      );
    }
    return existing;
  }
}
