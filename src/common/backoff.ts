export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Exponential backoff with ±20% jitter, so retries of a burst spread out. `attempt` counts from 1. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random = Math.random): number {
  const exp = Math.min(policy.baseMs * 2 ** Math.max(0, attempt - 1), policy.maxMs);
  return Math.round(exp * (0.8 + 0.4 * random()));
}
