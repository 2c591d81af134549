import { backoffDelay, type BackoffPolicy } from '../common/backoff.js';
import { isDomainError } from '../domain/domain-error.js';

export { backoffDelay, type BackoffPolicy };

/** A handler's answer when its work is still open: deliver the message again after about retryAfterMs. */
export interface RetryLater {
  retryAfterMs: number;
  /** Why, for logs and for the dead letter should the delivery cap be reached. */
  reason: string;
}

/** What an event handler returns: nothing once its work is finished, or a RetryLater. */
export type HandlerResult = void | RetryLater;

/** Reads a handler's return value: a RetryLater, or anything else meaning "finished". */
export function asRetryLater(value: unknown): RetryLater | undefined {
  const v = value as Partial<RetryLater> | null | undefined;
  return typeof v?.retryAfterMs === 'number'
    ? { retryAfterMs: v.retryAfterMs, reason: String(v.reason ?? '') }
    : undefined;
}

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
 * - a non-retryable domain error (DeadLettered: the request's retries ran out; a poison
 *   message): copy to the dead-letter stream, then remove from the work queue;
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
  if (isDomainError(error) && !error.retryable) {
    return { kind: 'deadLetter', reason };
  }
  if (capped) return { kind: 'deadLetter', reason };
  return { kind: 'nak', delayMs: backoffDelay(delivery.deliveryCount, backoff), expected: false };
}
