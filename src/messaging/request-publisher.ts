import { Injectable } from '@nestjs/common';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { NatsClient } from './nats-client.js';
import { REQUEST_ID_HEADER } from './jetstream-consumer.host.js';

const PUBLISH_TIMEOUT_MS = 2_000;

/** Puts a request's wake-up message on the work queue. The message carries only the id. */
@Injectable()
export class RequestPublisher {
  constructor(
    private readonly config: AppConfig,
    private readonly nats: NatsClient,
  ) {}

  get available(): boolean {
    return this.nats.isReady;
  }

  /**
   * Nats-Msg-Id is the requestId (plus the retry generation after a manual retry), so a
   * publish repeated within the duplicate window is dropped by the server. That is only an
   * optimisation: the worker's check under a lock is what makes the effect single.
   */
  async publish(requestId: string, generation: number): Promise<void> {
    const h = natsHeaders();
    h.set(REQUEST_ID_HEADER, requestId);
    try {
      await this.nats.jetstream().publish(this.config.NATS_SUBJECT, JSON.stringify({ requestId }), {
        msgID: generation === 0 ? requestId : `${requestId}#retry-${generation}`,
        headers: h,
        timeout: PUBLISH_TIMEOUT_MS,
      });
    } catch (e) {
      if (e instanceof DomainError) throw e;
      throw new DomainError(ErrorCode.QueueUnavailable, `publish failed: ${(e as Error).message}`);
    }
  }
}
