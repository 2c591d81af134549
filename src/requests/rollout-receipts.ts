import { canonicalJson } from '../common/canonical-json.js';
import { FINAL_ROLLOUT_STATES, RolloutReceipt, RolloutReceiptState } from '../domain/rollout-receipt.js';
import { compareResourceVersions, isWellFormedResourceVersion } from '../deployments/resource-version.js';
import { Operation } from './deployment-request.entity.js';

/** A SUCCESS request whose receipt is not final, as the receipts' SQL reads it. */
export interface ReceiptRequest {
  requestId: string;
  namespace: string;
  name: string;
  seq: number;
  operation: Operation;
  /** result_generation: what our write produced (a DELETE: the generation it deleted). */
  generation: number | null;
  /** result_resource_version: our write's (a DELETE: the object's it deleted); null when nothing was there. */
  resourceVersion: string | null;
  rollout: RolloutReceipt;
}

/** The mirror row of the request's Deployment, as the receipts need it. */
export interface ObservedDeployment {
  deleted: boolean;
  generation: number;
  observedGeneration: number;
  resourceVersion: string;
  /** The mirror's own `kubectl rollout status` verdict (rollout-state.ts) for its generation. */
  rollout: 'PROGRESSING' | 'AVAILABLE' | 'FAILED';
  replicas: { desired: number; updated: number; ready: number; available: number };
  /** The Progressing condition's reason and message. */
  progressing: { reason: string | null; message: string | null } | null;
  /** seq of the request named by the object's request-id annotation, when it is one of this Deployment's. */
  lastWriterSeq: number | null;
}

export const waitingReceipt = (generation: number | null): RolloutReceipt => ({
  state: RolloutReceiptState.WAITING,
  generation,
  observedGeneration: null,
  replicas: null,
  reason: null,
  message: null,
  completedAt: null,
});

/** The mirror holds our write or a later one (resourceVersions come from one counter per resource). */
function sawOurWrite(req: ReceiptRequest, d: ObservedDeployment): boolean {
  if (!isWellFormedResourceVersion(req.resourceVersion) || !isWellFormedResourceVersion(d.resourceVersion))
    return false;
  return compareResourceVersions(d.resourceVersion, req.resourceVersion) >= 0;
}

/**
 * Where a receipt goes given what the mirror shows now; null when it stays as it is (so an
 * identical value is never rewritten). Level-based: the same inputs give the same answer,
 * so the watcher, the worker and the reconciler may all run it.
 *
 * CREATE/UPDATE, with g the generation our write produced:
 * - the mirror has not seen our write yet (absent, or an older resourceVersion): unchanged;
 * - it shows another generation (a newer write, or the object deleted and made again): SUPERSEDED;
 * - generation g not yet observed by the controller: WAITING (we chose WAITING, not PROGRESSING,
 *   as the issue defines it: "written, not yet observed"), or SUPERSEDED once deleted;
 * - g observed: the mirror's verdict: AVAILABLE is COMPLETE, FAILED (ProgressDeadlineExceeded) is
 *   FAILED, else PROGRESSING; SUPERSEDED if the object was deleted mid-rollout.
 * DELETE: GONE once the mirror has no live row (or never had one), when nothing was there to
 * delete, or when a later request of ours made it again; WAITING otherwise.
 */
export function nextReceipt(
  req: ReceiptRequest,
  d: ObservedDeployment | null,
  now: Date = new Date(),
): RolloutReceipt | null {
  const current = req.rollout;
  if (FINAL_ROLLOUT_STATES.includes(current.state)) return null;
  const next = req.operation === Operation.DELETE ? afterDelete(req, d) : afterWrite(req, d);
  if (!next) return null;
  if (FINAL_ROLLOUT_STATES.includes(next.state)) next.completedAt = now.toISOString();
  return canonicalJson(next) === canonicalJson(current) ? null : next;
}

function afterDelete(req: ReceiptRequest, d: ObservedDeployment | null): RolloutReceipt | null {
  const gone =
    req.resourceVersion === null ||
    !d ||
    d.deleted ||
    (d.lastWriterSeq !== null && d.lastWriterSeq > req.seq && sawOurWrite(req, d));
  return gone ? { ...req.rollout, state: RolloutReceiptState.GONE } : null;
}

function afterWrite(req: ReceiptRequest, d: ObservedDeployment | null): RolloutReceipt | null {
  // No generation recorded: nothing to match the observed one against.
  if (!d || req.generation === null || !sawOurWrite(req, d)) return null;
  const seen: RolloutReceipt = {
    ...req.rollout,
    observedGeneration: d.observedGeneration,
    replicas: { ...d.replicas },
    reason: d.progressing?.reason ?? null,
    message: d.progressing?.message ?? null,
  };
  if (d.generation !== req.generation) return { ...seen, state: RolloutReceiptState.SUPERSEDED };
  if (d.observedGeneration < d.generation) {
    if (d.deleted) return { ...seen, state: RolloutReceiptState.SUPERSEDED };
    return { ...waitingReceipt(req.generation), observedGeneration: d.observedGeneration };
  }
  if (d.rollout === 'AVAILABLE') return { ...seen, state: RolloutReceiptState.COMPLETE };
  if (d.rollout === 'FAILED') return { ...seen, state: RolloutReceiptState.FAILED };
  return { ...seen, state: d.deleted ? RolloutReceiptState.SUPERSEDED : RolloutReceiptState.PROGRESSING };
}
