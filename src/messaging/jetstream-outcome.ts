import { backoffDelay, type BackoffPolicy } from '../common/backoff.js';
import { isDomainError, ErrorCode } from '../domain/domain-error.js';
import type { HandlerResult } from './jetstream-handler.decorator.js';

export { backoffDelay, type BackoffPolicy };

/** What the transport does with a message once its handler has returned or thrown. */
export type Outcome =
  | { kind: 'ack' }
  /** `expected`: the work is merely waiting (a busy deployment, an older request first), not failing. */
  | { kind: 'nak'; delayMs: number; expected: boolean }
  | { kind: 'deadLetter'; reason: string };

export interface DeliveryState {
  deliveryCount: number;
  /** JS_MAX_DELIVER: a safety cap, or -1 for none. */
  maxDeliver: number;
}

/**
 * The one place where handler results become JetStream acknowledgements:
 * - returned nothing (the work is finished): ack;
 * - returned a retry-after (the work is still open, e.g. its deployment is busy): nak with that delay;
 * - DeadLettered, or another non-retryable domain error (a poison message): copy to the
 *   dead-letter stream, then remove from the work queue;
 * - a retryable domain error, or an unexpected one: nak with backoff by delivery count;
 * - a message that would be redelivered past the JS_MAX_DELIVER safety cap is dead-lettered.
 */
export function outcomeFor(
  error: unknown,
  delivery: DeliveryState,
  backoff: BackoffPolicy,
  result?: HandlerResult,
): Outcome {
  const capped = delivery.maxDeliver > 0 && delivery.deliveryCount >= delivery.maxDeliver;
  if (error === undefined) {
    if (!result) return { kind: 'ack' };
    if (capped) return { kind: 'deadLetter', reason: `delivery cap JS_MAX_DELIVER reached: ${result.reason}` };
    return { kind: 'nak', delayMs: Math.max(0, Math.round(result.retryAfterMs)), expected: true };
  }
  const reason = isDomainError(error) ? `${error.code}: ${error.message}` : `Unexpected: ${String(error)}`;
  if (isDomainError(error) && (error.code === ErrorCode.DeadLettered || !error.retryable)) {
    return { kind: 'deadLetter', reason };
  }
  if (capped) return { kind: 'deadLetter', reason };
  return { kind: 'nak', delayMs: backoffDelay(delivery.deliveryCount, backoff), expected: false };
}
