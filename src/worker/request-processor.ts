import { Injectable, Logger } from '@nestjs/common';
import { backoffDelay } from '../common/backoff.js';
import { withLogContext } from '../common/logging.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { ShutdownSignal } from '../common/shutdown.js';
import { toDomainError } from '../kubernetes/kubernetes-error.js';
import { MetricsService } from '../metrics/metrics.service.js';
import {
  DeploymentRequestEntity,
  Operation,
  RequestStatus,
  TERMINAL_STATUSES,
} from '../requests/deployment-request.entity.js';
import { RequestsRepository, TargetLock, TargetLockLost, type RequestState } from '../requests/requests.repository.js';
import { RolloutReceipts } from '../requests/rollout-receipts.service.js';
import { DeploymentApplier } from './deployment-applier.js';

/** The request is still open: look at it again after about retryAfterMs. */
export interface RetryLater {
  retryAfterMs: number;
  reason: string;
}

/**
 * Applies requests exactly once and in acceptance order per deployment.
 *
 * A message only wakes a worker up; PostgreSQL holds the queue of record. The worker tries
 * the deployment's advisory lock (never waits for it: the holder drains the deployment
 * anyway), then applies that deployment's open requests oldest first until none is left or
 * the oldest must wait for its retry. A request's message is finished only once the request
 * is: while it is open, process() answers RetryLater, so some message always wakes it.
 * Transient failures are retried until the request's deadline; one whose next retry would
 * fall after the deadline ends FAILURE, dead-lettered.
 */
@Injectable()
export class RequestProcessor {
  private readonly logger = new Logger(RequestProcessor.name);

  constructor(
    private readonly repo: RequestsRepository,
    private readonly applier: DeploymentApplier,
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
    private readonly shutdown: ShutdownSignal,
    private readonly receipts: RolloutReceipts,
  ) {}

  /** The jitter source; tests replace it. */
  random: () => number = Math.random;

  /** One message: processes the request and records how long that took and how it ended. */
  async process(requestId: string): Promise<RetryLater | undefined> {
    const end = this.metrics.workerProcessingSeconds.startTimer();
    let outcome = 'error';
    try {
      const result = await this.processRequest(requestId);
      outcome = !result ? 'finished' : result.busy ? 'busy' : 'waiting';
      return result && { retryAfterMs: result.retryAfterMs, reason: result.reason };
    } catch (e) {
      if (e instanceof DomainError && e.code === ErrorCode.DeadLettered) outcome = 'dead_lettered';
      throw e;
    } finally {
      end({ outcome });
    }
  }

  private async processRequest(requestId: string): Promise<(RetryLater & { busy?: boolean }) | undefined> {
    // One statement reads the request and, while it is open, tries its deployment's lock.
    const lockWait = this.metrics.workerLockWaitSeconds.startTimer();
    const { state: request, attempt: drained } = await this.repo.tryWithRequestTargetLock(requestId, (lock) => {
      lockWait({ acquired: 'true' });
      return this.drain(lock, requestId);
    });
    if (!request) throw new DomainError(ErrorCode.RequestNotFound, `request "${requestId}" not found`);
    if (!drained.acquired) {
      if (TERMINAL_STATUSES.includes(request.status)) return finished(request);
      lockWait({ acquired: 'false' });
      return { retryAfterMs: this.busyDelay(), reason: `${request.namespace}/${request.name} is busy`, busy: true };
    }
    const { retryInMs, ended } = drained.value;
    // This drain finished our request: no need to read back what it wrote.
    if (ended) return finished(ended);
    const after = await this.repo.findState(requestId);
    if (!after || TERMINAL_STATUSES.includes(after.status)) return after ? finished(after) : undefined;
    // Still open: the deployment's queue waits for a retry time, ours or an older request's.
    return {
      retryAfterMs: (retryInMs ?? 0) + this.busyDelay(),
      reason: after.errorCode ? `${after.errorCode}: ${after.errorMessage}` : 'waiting behind an older request',
    };
  }

  /**
   * Applies the deployment's open requests in order. Returns how long until the oldest may be
   * retried (null when none is left), and how `requestId` ended if this drain ended it.
   */
  private async drain(lock: TargetLock, requestId: string): Promise<{ retryInMs: number | null; ended?: Ended }> {
    let ended: Ended | undefined;
    // A SUCCESS whose receipt may have to move: see receiptsAfter.
    let succeeded: DeploymentRequestEntity | undefined;
    for (;;) {
      // Shutting down: finish the request in hand, start no other; the message comes back to another worker.
      if (this.shutdown.requested) {
        if (succeeded) await this.receipts.advanceQuietly([target(succeeded)]);
        return { retryInMs: 0, ended };
      }
      const claim = await lock.claimOldestOpen();
      if (succeeded) await this.receiptsAfter(succeeded, claim.mirrored);
      succeeded = undefined;
      if (claim.kind === 'none') return { retryInMs: null, ended };
      if (claim.kind === 'waiting') return { retryInMs: claim.waitMs, ended };
      // The message may have woken us for another request of this deployment: log as this one's.
      const { correlationId } = claim.request;
      const outcome = await withLogContext(
        { requestId: claim.request.requestId, correlationId: correlationId ?? undefined },
        () => this.attempt(lock, claim.request),
      );
      if (outcome.ended && claim.request.requestId === requestId) ended = outcome.ended;
      if (outcome.ended && !outcome.ended.deadLettered && outcome.ended.errorCode === null) succeeded = claim.request;
      if (outcome.retryInMs !== undefined) return { retryInMs: outcome.retryInMs, ended };
    }
  }

  /**
   * The watcher may have mirrored our write before SUCCESS was recorded (see RolloutReceipts):
   * the claim that follows the SUCCESS read the mirror after it committed. With no mirror row a
   * CREATE or UPDATE's receipt cannot move (the watcher moves it when it mirrors); a DELETE's can.
   */
  private async receiptsAfter(request: DeploymentRequestEntity, mirrored: boolean): Promise<void> {
    if (mirrored || request.operation === Operation.DELETE) await this.receipts.advanceQuietly([target(request)]);
  }

  /** One attempt at one claimed request: how it ended, or the delay before its retry. */
  private async attempt(lock: TargetLock, started: DeploymentRequestEntity): Promise<AttemptOutcome> {
    if (started.deadlineAt.getTime() < Date.now()) {
      return this.finish(
        lock,
        started,
        new DomainError(ErrorCode.DeadlineExceeded, 'the request passed its deadline before it could be applied'),
        false,
      );
    }
    let result: Awaited<ReturnType<DeploymentApplier['apply']>>;
    try {
      // The fence: each Kubernetes write is sent only while the lock is provably ours.
      result = await this.applier.apply(started, () => lock.assertHeld());
    } catch (e) {
      if (e instanceof TargetLockLost) throw e;
      return this.failed(lock, started, toDomainError(e));
    }
    // On the lock's session: if the lock was lost during the call, this throws and nothing is marked.
    await lock.succeed(started.requestId, result);
    this.record(started, RequestStatus.SUCCESS);
    this.logger.log(`${started.operation} ${started.namespace}/${started.name} succeeded (${started.requestId})`);
    return { ended: { deadLettered: false, errorCode: null, errorMessage: null } };
  }

  private async failed(
    lock: TargetLock,
    started: DeploymentRequestEntity,
    error: DomainError,
  ): Promise<AttemptOutcome> {
    if (!error.retryable) return this.finish(lock, started, error, false);
    const retryInMs = backoffDelay(
      started.attempts,
      { baseMs: this.config.JS_BACKOFF_BASE_MS, maxMs: this.config.JS_BACKOFF_MAX_MS },
      this.random,
    );
    // The retry budget is the deadline. The message comes back up to 1.5 busy delays after the
    // retry time; keep a margin so the last retry still finds the request inside its deadline.
    if (Date.now() + retryInMs + 2 * this.config.WORKER_BUSY_RETRY_MS >= started.deadlineAt.getTime())
      return this.finish(lock, started, error, true);
    await lock.noteAttemptError(started.requestId, error.code, error.message, retryInMs);
    return { retryInMs };
  }

  private async finish(
    lock: TargetLock,
    request: DeploymentRequestEntity,
    error: DomainError,
    deadLettered: boolean,
  ): Promise<AttemptOutcome> {
    await lock.fail(request.requestId, error.code, error.message, deadLettered);
    this.record(request, RequestStatus.FAILURE, deadLettered ? ErrorCode.DeadLettered : error.code);
    this.logger.warn(
      `${request.operation} ${request.namespace}/${request.name} failed${deadLettered ? ' (dead-lettered)' : ''}: ${error.code}: ${error.message}`,
    );
    return { ended: { deadLettered, errorCode: error.code, errorMessage: error.message } };
  }

  /** A short jittered delay (±50%), so messages of a busy deployment do not come back in step. */
  private busyDelay(): number {
    return Math.round(this.config.WORKER_BUSY_RETRY_MS * (0.5 + this.random()));
  }

  private record(request: DeploymentRequestEntity, status: RequestStatus, code = '') {
    this.metrics.requestEnded(request, status, code);
  }
}

/** How a request ended: what its message's outcome depends on. */
type Ended = Pick<RequestState, 'deadLettered' | 'errorCode' | 'errorMessage'>;

/** An attempt either ended the request or left it for a retry after retryInMs. */
type AttemptOutcome = { ended: Ended; retryInMs?: undefined } | { ended?: undefined; retryInMs: number };

const target = (r: { namespace: string; name: string }) => ({ namespace: r.namespace, name: r.name });

/** A finished request's message is done, unless the request was dead-lettered: then the message goes to the dead letters. */
function finished(request: Ended): undefined {
  if (request.deadLettered) {
    throw new DomainError(
      ErrorCode.DeadLettered,
      `retries ran out before the deadline: ${request.errorCode}: ${request.errorMessage}`,
    );
  }
  return undefined;
}
