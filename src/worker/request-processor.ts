import { Injectable, Logger } from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { toDomainError } from '../kubernetes/kubernetes-error.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DeploymentRequestEntity, RequestStatus, TERMINAL_STATUSES } from '../requests/deployment-request.entity.js';
import { RequestsRepository } from '../requests/requests.repository.js';
import { DeploymentApplier } from './deployment-applier.js';

export interface Attempt {
  isLastAttempt: boolean;
}

type StepResult = 'done' | 'blocked';

/**
 * Applies requests exactly once and in acceptance order per deployment.
 *
 * A message only wakes a worker up; PostgreSQL holds the queue of record. The worker takes
 * the deployment's advisory lock, then applies that deployment's open requests oldest
 * first until none is left. So a redelivered or duplicate message finds its request done
 * and does nothing, and a newer request can never be applied before an older one.
 */
@Injectable()
export class RequestProcessor {
  private readonly logger = new Logger(RequestProcessor.name);

  constructor(
    private readonly repo: RequestsRepository,
    private readonly applier: DeploymentApplier,
    private readonly metrics: MetricsService,
  ) {}

  async process(requestId: string, attempt: Attempt): Promise<void> {
    const request = await this.repo.findById(requestId);
    if (!request) throw new DomainError(ErrorCode.RequestNotFound, `request "${requestId}" not found`);
    if (TERMINAL_STATUSES.includes(request.status)) return;

    // Waiting for the lock counts against the message's ack deadline, which the transport extends.
    await this.repo.withTargetLock(request.namespace, request.name, async () => {
      for (;;) {
        const next = await this.repo.claimOldestOpen(request.namespace, request.name);
        if (!next) return;
        const own = next.requestId === requestId;
        const step = await this.attempt(next, own ? attempt : undefined);
        // An older request must retry first; its own message will drain the rest, ours included.
        if (step === 'blocked') return;
      }
    });
  }

  /**
   * One attempt at one claimed request. `attempt` is set when the request is the one whose
   * message is being handled: only then do retryable failures go back to the transport.
   */
  private async attempt(started: DeploymentRequestEntity, attempt?: Attempt): Promise<StepResult> {
    if (started.deadlineAt.getTime() < Date.now()) {
      await this.finish(
        started,
        RequestStatus.FAILURE,
        new DomainError(ErrorCode.DeadlineExceeded, 'the request passed its deadline before it could be applied'),
      );
      return 'done';
    }
    try {
      const result = await this.applier.apply(started);
      await this.repo.succeed(started.requestId, result);
      this.record(started, RequestStatus.SUCCESS);
      this.logger.log(`${started.operation} ${started.namespace}/${started.name} succeeded (${started.requestId})`);
      return 'done';
    } catch (e) {
      const error = toDomainError(e);
      if (!error.retryable) {
        await this.finish(started, RequestStatus.FAILURE, error);
        return 'done';
      }
      if (attempt?.isLastAttempt) {
        await this.repo.fail(started.requestId, error.code, error.message, true);
        this.record(started, RequestStatus.FAILURE, ErrorCode.DeadLettered);
        throw new DomainError(ErrorCode.DeadLettered, `retries exhausted: ${error.code}: ${error.message}`);
      }
      await this.repo.noteAttemptError(started.requestId, error.code, error.message);
      if (attempt) throw error;
      return 'blocked';
    }
  }

  private async finish(request: DeploymentRequestEntity, status: RequestStatus.FAILURE, error: DomainError) {
    await this.repo.fail(request.requestId, error.code, error.message, false);
    this.record(request, status, error.code);
    this.logger.warn(
      `${request.operation} ${request.namespace}/${request.name} failed: ${error.code}: ${error.message}`,
    );
  }

  private record(request: DeploymentRequestEntity, status: RequestStatus, code = '') {
    this.metrics.requestsCompleted.inc({ operation: request.operation, status, code });
  }
}
