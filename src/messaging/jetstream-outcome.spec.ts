import { DomainError, ErrorCode } from '../common/domain-error.js';
import { backoffDelay, outcomeFor } from './jetstream-outcome.js';

const backoff = { baseMs: 1000, maxMs: 8000 };

describe('outcomeFor', () => {
  it('acks success', () => {
    expect(outcomeFor(undefined, { deliveryCount: 1, maxDeliver: 5 }, backoff)).toEqual({ kind: 'ack' });
  });

  it('naks retryable and unexpected errors with backoff until the last delivery', () => {
    const transient = new DomainError(ErrorCode.KubernetesUnavailable, 'HTTP 503');
    expect(outcomeFor(transient, { deliveryCount: 2, maxDeliver: 5 }, backoff).kind).toBe('nak');
    expect(outcomeFor(new Error('boom'), { deliveryCount: 1, maxDeliver: 5 }, backoff).kind).toBe('nak');
    expect(outcomeFor(transient, { deliveryCount: 5, maxDeliver: 5 }, backoff)).toEqual({
      kind: 'deadLetter',
      reason: 'KubernetesUnavailable: HTTP 503',
    });
  });

  it('dead-letters DeadLettered and other permanent errors at once', () => {
    const dl = new DomainError(ErrorCode.DeadLettered, 'retries exhausted');
    expect(outcomeFor(dl, { deliveryCount: 1, maxDeliver: 5 }, backoff).kind).toBe('deadLetter');
    const poison = new DomainError(ErrorCode.ValidationFailed, 'bad message');
    expect(outcomeFor(poison, { deliveryCount: 1, maxDeliver: 5 }, backoff).kind).toBe('deadLetter');
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
