import { Injectable } from '@nestjs/common';
import { ShutdownSignal } from '../common/shutdown.js';
import type { Principal } from '../domain/principal.js';
import { FINAL_ROLLOUT_STATES } from '../domain/rollout-receipt.js';
import { EventHub } from '../events/event-hub.js';
import { type DeploymentRequestEntity, RequestStatus } from './deployment-request.entity.js';
import type { WaitFor } from './dto/get-request.query.js';
import { RequestsService } from './requests.service.js';

/** Whether a long-poll for `wait` may answer with this record. */
export function waitIsOver(r: Pick<DeploymentRequestEntity, 'status' | 'rollout'>, wait: WaitFor): boolean {
  if (r.status === RequestStatus.FAILURE) return true;
  if (wait === 'done') return r.status === RequestStatus.SUCCESS;
  // SUCCESS and the receipt are written together, so a SUCCESS without one is from before receipts: none will come.
  if (!r.rollout) return r.status === RequestStatus.SUCCESS;
  return FINAL_ROLLOUT_STATES.includes(r.rollout.state);
}

/**
 * GET /v1/requests/{id}?wait=: reads the record, and while it is not done waits for the event
 * hub to deliver an event of that request, then reads again. No database connection is held
 * while waiting: the wait is on this process's event fan-out, which one LISTEN session feeds.
 */
@Injectable()
export class RequestWaitService {
  constructor(
    private readonly requests: RequestsService,
    private readonly hub: EventHub,
    private readonly shutdown: ShutdownSignal,
  ) {}

  /** The record, and whether the wait ended at its timeout (or shutdown) rather than by the record. */
  async waitFor(
    requestId: string,
    principal: Principal,
    wait: WaitFor,
    timeoutMs: number,
  ): Promise<{ record: DeploymentRequestEntity; timedOut: boolean }> {
    const deadline = Date.now() + timeoutMs;
    await this.hub.ready();
    for (;;) {
      // Listen before reading: a change committed after the read still wakes us.
      const next = this.hub.nextEventOf(requestId);
      let record: DeploymentRequestEntity;
      try {
        record = await this.requests.get(requestId, principal);
      } catch (e) {
        next.cancel();
        throw e;
      }
      const left = deadline - Date.now();
      if (waitIsOver(record, wait)) {
        next.cancel();
        return { record, timedOut: false };
      }
      if (left <= 0 || this.shutdown.requested) {
        next.cancel();
        return { record, timedOut: true };
      }
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      await Promise.race([
        next.event,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, left))),
        new Promise<void>((resolve) => {
          onAbort = resolve;
          this.shutdown.signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
      clearTimeout(timer);
      this.shutdown.signal.removeEventListener('abort', onAbort!);
      next.cancel();
    }
  }
}
