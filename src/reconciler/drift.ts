import { canonicalJson } from '../common/canonical-json.js';
import { quantityValue } from '../common/quantity.js';
import { mergeSpec } from '../kubernetes/manifest.js';
import { Operation, SpecMode } from '../requests/deployment-request.entity.js';
import type { DeploymentSpec, DeploymentSpecPatch, ResourceRequirements } from '../requests/deployment-spec.js';

export interface SuccessfulRequest {
  namespace: string;
  name: string;
  operation: Operation;
  specMode: SpecMode;
  spec: DeploymentSpecPatch | null;
  requestId: string;
}

export const targetKey = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * What we last asked Kubernetes for, per deployment: the last successful full spec (CREATE
 * or PUT) with the successful PATCHes after it folded in, in acceptance order. A
 * successful DELETE leaves nothing to compare. Input must be ordered by target, then seq.
 */
export function desiredSpecs(history: Iterable<SuccessfulRequest>): Map<string, DeploymentSpec | null> {
  const desired = new Map<string, DeploymentSpec | null>();
  for (const r of history) {
    const key = targetKey(r.namespace, r.name);
    if (r.operation === Operation.DELETE) desired.set(key, null);
    else if (r.specMode === SpecMode.REPLACE) desired.set(key, r.spec as DeploymentSpec);
    else {
      const base = desired.get(key);
      if (base) desired.set(key, mergeSpec(base, r.spec ?? {}));
    }
  }
  return desired;
}

const FIELDS = ['image', 'replicas', 'containerPort', 'env', 'resources', 'labels', 'annotations'] as const;

function normalizeResources(r: ResourceRequirements | undefined) {
  const out: Record<string, Record<string, number>> = {};
  for (const side of ['requests', 'limits'] as const) {
    for (const [k, v] of Object.entries(r?.[side] ?? {})) {
      if (v === undefined) continue;
      (out[side] ??= {})[k] = quantityValue(v);
    }
  }
  return out;
}

function normalize(field: (typeof FIELDS)[number], value: unknown): string {
  if (field === 'resources') return canonicalJson(normalizeResources(value as ResourceRequirements | undefined));
  if (field === 'env' || field === 'labels' || field === 'annotations') return canonicalJson(value ?? {});
  return canonicalJson(value ?? null);
}

/** The managed fields whose live value differs from the desired one. */
export function driftedFields(desired: DeploymentSpec, live: DeploymentSpecPatch): string[] {
  return FIELDS.filter((f) => normalize(f, desired[f]) !== normalize(f, live[f]));
}
