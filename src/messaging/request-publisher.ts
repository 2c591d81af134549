import { Injectable } from '@nestjs/common';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { NatsClient } from './nats-client.js';
import { CORRELATION_ID_HEADER, REQUEST_ID_HEADER } from './jetstream-topology.js';

const PUBLISH_TIMEOUT_MS = 2_000;

/**
 * The Nats-Msg-Id of a request's message: the requestId, and after the Nth manual retry the
 * requestId, a space and "retry-N". A requestId (an Idempotency-Key: visible ASCII, no
 * spaces; or a UUID) never holds a space, so no key can produce another request's retry id.
 * With "#" as separator, key "abc#retry-1" took the id of abc's first retry and JetStream
 * silently dropped whichever came second.
 */
export function messageIdFor(requestId: string, generation: number): string {
  return generation === 0 ? requestId : `${requestId} retry-${generation}`;
}

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
   * Nats-Msg-Id is messageIdFor(requestId, generation), so a publish repeated within the
   * duplicate window is dropped by the server. That is only an optimisation: the worker's
   * check under a lock is what makes the effect single. The correlation id stored with the
   * request travels in a header, so the worker's lines about it carry the API's X-Request-Id.
   */
  async publish(requestId: string, generation: number, correlationId?: string | null): Promise<void> {
    const h = natsHeaders();
    h.set(REQUEST_ID_HEADER, requestId);
    if (correlationId) h.set(CORRELATION_ID_HEADER, correlationId);
    try {
      await this.nats.jetstream().publish(this.config.NATS_SUBJECT, JSON.stringify({ requestId }), {
        msgID: messageIdFor(requestId, generation),
        headers: h,
        timeout: PUBLISH_TIMEOUT_MS,
      });
    } catch (e) {
      if (e instanceof DomainError) throw e;
      throw new DomainError(ErrorCode.QueueUnavailable, `publish failed: ${(e as Error).message}`);
    }
  }
}
