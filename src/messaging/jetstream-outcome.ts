import { isDomainError, ErrorCode } from '../common/domain-error.js';

/** What the transport does with a message once its handler has returned or thrown. */
export type Outcome = { kind: 'ack' } | { kind: 'nak'; delayMs: number } | { kind: 'deadLetter'; reason: string };

export interface DeliveryState {
  deliveryCount: number;
  maxDeliver: number;
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Exponential backoff with ±20% jitter, so retries of a burst spread out. */
export function backoffDelay(deliveryCount: number, policy: BackoffPolicy, random = Math.random): number {
  const exp = Math.min(policy.baseMs * 2 ** Math.max(0, deliveryCount - 1), policy.maxMs);
  return Math.round(exp * (0.8 + 0.4 * random()));
}

/**
 * The one place where handler results become JetStream acknowledgements:
 * - success: ack;
 * - a retryable domain error, or an unexpected one: nak with backoff, until the last delivery;
 * - DeadLettered, another domain error (a poison message), or the last delivery: copy to the
 *   dead-letter stream, then remove from the work queue.
 */
export function outcomeFor(error: unknown, delivery: DeliveryState, backoff: BackoffPolicy): Outcome {
  if (error === undefined) return { kind: 'ack' };
  const reason = isDomainError(error) ? `${error.code}: ${error.message}` : `Unexpected: ${String(error)}`;
  if (isDomainError(error) && (error.code === ErrorCode.DeadLettered || !error.retryable)) {
    return { kind: 'deadLetter', reason };
  }
  if (delivery.deliveryCount >= delivery.maxDeliver) return { kind: 'deadLetter', reason };
  return { kind: 'nak', delayMs: backoffDelay(delivery.deliveryCount, backoff) };
}
