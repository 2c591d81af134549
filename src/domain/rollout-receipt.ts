/**
 * What a CREATE or UPDATE did once Kubernetes rolled it out, or what a DELETE did: the
 * "receipt" of a request. The worker writes WAITING with the generation its write produced;
 * the watcher moves it on as it observes that generation (the `kubectl rollout status` rules).
 */
export enum RolloutReceiptState {
  /** Written, not yet observed by the Deployment controller. */
  WAITING = 'WAITING',
  PROGRESSING = 'PROGRESSING',
  COMPLETE = 'COMPLETE',
  /** ProgressDeadlineExceeded for this generation. */
  FAILED = 'FAILED',
  /** A newer generation was written before this one completed. */
  SUPERSEDED = 'SUPERSEDED',
  /** A DELETE whose Deployment is gone from Kubernetes. */
  GONE = 'GONE',
}

/** States a receipt never leaves. */
export const FINAL_ROLLOUT_STATES: readonly RolloutReceiptState[] = [
  RolloutReceiptState.COMPLETE,
  RolloutReceiptState.FAILED,
  RolloutReceiptState.SUPERSEDED,
  RolloutReceiptState.GONE,
];

export interface RolloutReceipt {
  state: RolloutReceiptState;
  /** metadata.generation our write produced (for a DELETE, the last one we read). */
  generation: number | null;
  /** status.observedGeneration when last seen. */
  observedGeneration: number | null;
  replicas: { desired: number; updated: number; ready: number; available: number } | null;
  reason: string | null;
  message: string | null;
  /** ISO time it reached a final state. */
  completedAt: string | null;
}
