import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json.js';
import { quantityValue } from '../domain/quantity.js';
import { mergeSpec } from '../domain/deployment-spec.js';
import { Operation, SpecMode } from '../requests/deployment-request.entity.js';
import type { DeploymentSpec, DeploymentSpecPatch, ResourceRequirements } from '../domain/deployment-spec.js';
import type { SuccessfulRequestRow } from '../requests/requests.repository.js';

/** One successful request of a deployment's history, as the requests repository reads it. */
export type SuccessfulRequest = SuccessfulRequestRow;

export const targetKey = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * What we last asked Kubernetes for, per deployment: the last successful full spec (CREATE
 * or PUT) with the successful PATCHes after it folded in, in acceptance order. A
 * successful DELETE leaves nothing to compare. Input must be ordered by target, then seq.
 */
export function desiredSpecs(history: Iterable<SuccessfulRequest>): Map<string, DeploymentSpec | null> {
  return new Map([...desiredStates(history)].map(([k, v]) => [k, v?.spec ?? null]));
}

export interface DesiredState {
  spec: DeploymentSpec;
  /** The last successful request folded in: a heal after it is a new heal, one before it the same. */
  basis: string;
}

/** desiredSpecs, with the request each desired spec was last changed by. */
export function desiredStates(history: Iterable<SuccessfulRequest>): Map<string, DesiredState | null> {
  const desired = new Map<string, DesiredState | null>();
  for (const r of history) {
    const key = targetKey(r.namespace, r.name);
    if (r.operation === Operation.DELETE) desired.set(key, null);
    else if (r.specMode === SpecMode.REPLACE) desired.set(key, { spec: r.spec as DeploymentSpec, basis: r.requestId });
    else {
      const base = desired.get(key);
      if (base) desired.set(key, { spec: mergeSpec(base.spec, r.spec ?? {}), basis: r.requestId });
    }
  }
  return desired;
}

const MAX_KEY = 255;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * The Idempotency-Key of a heal: the target plus a hash of what the heal asks for and the
 * request it restores. Every pass that finds the same drift against the same desired spec
 * computes the same key, so it replays the first heal instead of queueing another; once a
 * heal has succeeded it is the new basis, and a later drift gets a new key. Always 1-255
 * visible ASCII characters (namespace and name are DNS names; a long pair is hashed).
 */
export function healKey(namespace: string, name: string, basis: string, body: unknown): string {
  const hash = sha256(canonicalJson({ basis, body })).slice(0, 32);
  const key = `heal:${namespace}/${name}:${hash}`;
  return key.length <= MAX_KEY ? key : `heal:${sha256(`${namespace}/${name}`).slice(0, 32)}:${hash}`;
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
