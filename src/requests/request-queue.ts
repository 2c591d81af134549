import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { ErrorCode } from '../domain/domain-error.js';
import { RequestPublisher } from '../messaging/request-publisher.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DeploymentRequestEntity, RequestStatus } from './deployment-request.entity.js';
import { QueuedMarker } from './queued-marker.js';
import { RequestsRepository } from './requests.repository.js';

const RELAY_BATCH = 200;
const RECOVERY_BATCH = 500;

/**
 * The one owner of a request's way onto the work queue. PostgreSQL is the queue of record;
 * a message only wakes a worker. A request is committed CREATED before anything is
 * published (the outbox), becomes QUEUED once its message is on the stream, and every way
 * back onto the stream goes through here:
 * - enqueue: the intake, right after its INSERT (or a manual retry's reopen);
 * - relay: the API's relay, for what enqueue left CREATED (NATS down, a crash in between);
 * - republishStuckCreated, expireOverdue, requeueStalled: the reconciler's recovery.
 */
@Injectable()
export class RequestQueue {
  private readonly logger = new Logger(RequestQueue.name);

  constructor(
    private readonly config: AppConfig,
    private readonly repo: RequestsRepository,
    private readonly publisher: RequestPublisher,
    private readonly queued: QueuedMarker,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Publishes a committed request's message and marks it QUEUED (batched, off the request
   * path). Never throws: a request it cannot publish stays CREATED for the relay.
   */
  async enqueue(request: DeploymentRequestEntity): Promise<void> {
    if (!this.publisher.available) return;
    try {
      await this.publisher.publish(request.requestId, request.generation, request.correlationId);
      this.queued.mark(request.requestId);
      request.status = RequestStatus.QUEUED;
      request.queuedAt = new Date();
    } catch (e) {
      this.logger.warn(`request ${request.requestId} stays CREATED for the outbox relay: ${(e as Error).message}`);
    }
  }

  /** Publishes until no CREATED request is older than OUTBOX_RELAY_MIN_AGE_MS. Never throws. */
  async relay(): Promise<number> {
    if (!this.publisher.available) return 0;
    let total = 0;
    try {
      for (;;) {
        const n = await this.publishCreated(this.config.OUTBOX_RELAY_MIN_AGE_MS, RELAY_BATCH);
        total += n;
        if (n < RELAY_BATCH) break;
      }
    } catch (e) {
      this.logger.warn(`relay stopped early: ${(e as Error).message}`);
    }
    if (total) this.logger.log(`relayed ${total} request(s) from the outbox`);
    return total;
  }

  /** Publishes requests left CREATED longer than RECONCILE_STUCK_CREATED_MS (no relay ran); throws when NATS is down. */
  republishStuckCreated(): Promise<number> {
    return this.publishCreated(this.config.RECONCILE_STUCK_CREATED_MS, RECOVERY_BATCH);
  }

  /** Fails open requests past their deadline, unless a worker holds the deployment's lock right now. */
  async expireOverdue(): Promise<number> {
    let failed = 0;
    for (const r of await this.repo.findPastDeadline(RECOVERY_BATCH)) {
      const done = await this.repo.ifTargetIdle(r.namespace, r.name, async () => {
        await this.repo.fail(
          r.requestId,
          ErrorCode.DeadlineExceeded,
          'no worker completed the request before its deadline',
          false,
        );
        this.metrics.requestEnded(r, RequestStatus.FAILURE, ErrorCode.DeadlineExceeded);
        return true;
      });
      if (done) failed++;
    }
    return failed;
  }

  /**
   * Wakes a worker again for QUEUED or PROCESSING requests with no progress for
   * RECONCILE_STALLED_MS: a new message generation, so the stream does not drop the message
   * as a duplicate of the one that got lost.
   */
  async requeueStalled(): Promise<number> {
    let requeued = 0;
    for (const r of await this.repo.findStalled(this.config.RECONCILE_STALLED_MS, RECOVERY_BATCH)) {
      const generation = await this.repo.bumpGeneration(r.requestId);
      if (generation === null) continue;
      await this.publisher.publish(r.requestId, generation, r.correlationId);
      requeued++;
    }
    return requeued;
  }

  /**
   * One batch of CREATED requests older than minAgeMs, in one transaction: publishes them all at
   * once and marks QUEUED those now on the stream; then throws the first failure, if any (those
   * stay CREATED for the next pass). Thrown after the commit, which would otherwise undo the marks.
   */
  private async publishCreated(minAgeMs: number, limit: number): Promise<number> {
    const { count, failure } = await this.repo.withCreated(minAgeMs, limit, async (rows, markQueued) => {
      const sent = await Promise.allSettled(
        rows.map((r) => this.publisher.publish(r.requestId, r.generation, r.correlationId)),
      );
      await markQueued(rows.filter((_, i) => sent[i].status === 'fulfilled').map((r) => r.requestId));
      return { count: rows.length, failure: sent.find((s) => s.status === 'rejected') };
    });
    if (failure) throw failure.reason;
    return count;
  }
}
