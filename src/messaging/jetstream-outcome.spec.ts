import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { backoffDelay, outcomeFor } from './jetstream-outcome.js';

const backoff = { baseMs: 1000, maxMs: 8000 };
const unlimited = (deliveryCount: number) => ({ deliveryCount, maxDeliver: -1 });

describe('outcomeFor', () => {
  it('acks a handler that finished', () => {
    expect(outcomeFor(undefined, unlimited(1), backoff)).toEqual({ kind: 'ack' });
  });

  it("naks with the handler's own delay while its work is open, however many deliveries", () => {
    const later = { retryAfterMs: 250, reason: 'ns/web is busy' };
    expect(outcomeFor(undefined, unlimited(1), backoff, later)).toEqual({ kind: 'nak', delayMs: 250, expected: true });
    expect(outcomeFor(undefined, unlimited(10_000), backoff, later)).toEqual({
      kind: 'nak',
      delayMs: 250,
      expected: true,
    });
  });

  it('naks retryable and unexpected errors with backoff, with no count limit by default', () => {
    const transient = new DomainError(ErrorCode.KubernetesUnavailable, 'HTTP 503');
    expect(outcomeFor(transient, unlimited(2), backoff).kind).toBe('nak');
    expect(outcomeFor(new Error('boom'), unlimited(1), backoff).kind).toBe('nak');
    expect(outcomeFor(new Error('boom'), unlimited(500), backoff).kind).toBe('nak');
  });

  it('dead-letters at a finite JS_MAX_DELIVER safety cap', () => {
    const transient = new DomainError(ErrorCode.KubernetesUnavailable, 'HTTP 503');
    expect(outcomeFor(transient, { deliveryCount: 5, maxDeliver: 5 }, backoff)).toEqual({
      kind: 'deadLetter',
      reason: 'KubernetesUnavailable: HTTP 503',
    });
    expect(
      outcomeFor(undefined, { deliveryCount: 5, maxDeliver: 5 }, backoff, { retryAfterMs: 1, reason: 'busy' }),
    ).toEqual({ kind: 'deadLetter', reason: 'delivery cap JS_MAX_DELIVER reached: busy' });
    expect(outcomeFor(undefined, { deliveryCount: 5, maxDeliver: 5 }, backoff)).toEqual({ kind: 'ack' });
  });

  it('dead-letters DeadLettered and other permanent errors at once', () => {
    const dl = new DomainError(ErrorCode.DeadLettered, 'retries ran out');
    expect(outcomeFor(dl, unlimited(1), backoff).kind).toBe('deadLetter');
    const poison = new DomainError(ErrorCode.ValidationFailed, 'bad message');
    expect(outcomeFor(poison, unlimited(1), backoff).kind).toBe('deadLetter');
  });
});

describe('backoffDelay', () => {
  it('doubles per delivery within ±20% and caps at the maximum', () => {
    const mid = () => 0.5;
    expect(backoffDelay(1, backoff, mid)).toBe(1000);
    expect(backoffDelay(3, backoff, mid)).toBe(4000);
    expect(backoffDelay(10, backoff, mid)).toBe(8000);
    expect(backoffDelay(1, backoff, () => 0)).toBe(800);
    expect(backoffDelay(1, backoff, () => 0.999)).toBeLessThanOrEqual(1200);
  });
});
