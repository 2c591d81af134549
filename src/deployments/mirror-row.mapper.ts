import type { DeploymentObject } from '../kubernetes/kubernetes.gateway.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, REQUEST_ID_ANNOTATION } from '../domain/deployment-spec.js';
import { specFromDeployment } from '../kubernetes/manifest.js';
import type { DeploymentSpec, DeploymentSpecPatch } from '../domain/deployment-spec.js';
import { DeploymentCondition, DeploymentEntity, RolloutState } from './deployment.entity.js';
import { FieldOwners, fieldOwnersOf, ManagerTimes, managerTimesOf } from './field-owners.js';
import { rolloutState } from './rollout-state.js';

/**
 * The mirror's spec: the request-spec shape, with env values kept only where they are safe to show.
 * - `env`: literal values (`value:`) of Deployments we manage.
 * - `envReferences`: env vars of Deployments we manage whose value Kubernetes resolves from a
 *   reference (`valueFrom`), name → the kind of reference (`secretKeyRef`, `configMapKeyRef`,
 *   `fieldRef`, `resourceFieldRef`). The value is never read, stored or shown.
 * - `envNames`: for Deployments we do not manage, only the names of their env vars, sorted.
 */
export type MirrorSpec = DeploymentSpec & {
  envReferences?: Record<string, string>;
  envNames?: string[];
};

/** What the watcher writes for one Deployment: every column Kubernetes decides. */
export interface MirrorRow {
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  images: string[];
  spec: MirrorSpec;
  desiredReplicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  availableReplicas: number;
  unavailableReplicas: number;
  conditions: DeploymentCondition[];
  generation: number;
  observedGeneration: number;
  resourceVersion: string;
  rollout: RolloutState;
  lastRequestId: string | null;
  k8sCreatedAt: string | null;
  /** A DELETED watch event: the row is kept, with deleted_at set. */
  deleted: boolean;
  /** Who owns each managed field now (from managedFields), so self-heal never fights another manager. */
  fieldOwners: FieldOwners;
  /** When each field manager last changed the object, so drift can say who changed what and when. */
  managerTimes: ManagerTimes;
}

const iso = (d: Date | undefined): string | undefined => (d ? new Date(d).toISOString() : undefined);

const isManagedLabels = (labels: Record<string, string> | null | undefined) =>
  labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;

/** The live spec, with env split into literal values and references (see MirrorSpec). */
function mirrorSpec(d: DeploymentObject): MirrorSpec {
  const spec: MirrorSpec = specFromDeployment(d);
  const references: Record<string, string> = {};
  for (const e of d.spec?.template?.spec?.containers?.[0]?.env ?? []) {
    if (!e.valueFrom) continue;
    const from = e.valueFrom as Record<string, unknown>;
    references[e.name] = Object.keys(from).find((k) => from[k] != null) ?? 'valueFrom';
    delete spec.env?.[e.name];
  }
  if (spec.env && !Object.keys(spec.env).length) delete spec.env;
  if (Object.keys(references).length) spec.envReferences = references;
  return hideUnmanagedEnv(spec, d.metadata?.labels)!;
}

/**
 * For a Deployment we do not manage, the env var names only (envNames): its values are
 * never stored or shown. Applied when the mirror is written and again when it is read, so a
 * row written by an older watcher shows no values either.
 */
export function hideUnmanagedEnv<S extends DeploymentSpecPatch & { envReferences?: unknown; envNames?: string[] }>(
  spec: S | null,
  labels: Record<string, string> | null | undefined,
): S | null {
  if (!spec || isManagedLabels(labels) || (!spec.env && !spec.envReferences)) return spec;
  const names = new Set([
    ...Object.keys(spec.env ?? {}),
    ...Object.keys((spec.envReferences as Record<string, string> | undefined) ?? {}),
    ...(spec.envNames ?? []),
  ]);
  const hidden = { ...spec };
  delete hidden.env;
  delete hidden.envReferences;
  if (names.size) hidden.envNames = [...names].sort();
  return hidden;
}

export function toMirrorRow(d: DeploymentObject, deleted = false): MirrorRow {
  const m = d.metadata ?? {};
  const s = d.status ?? {};
  const spec = mirrorSpec(d);
  return {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    uid: m.uid ?? '',
    labels: { ...(m.labels ?? {}) },
    images: (d.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? ''),
    spec,
    desiredReplicas: d.spec?.replicas ?? 1,
    readyReplicas: s.readyReplicas ?? 0,
    updatedReplicas: s.updatedReplicas ?? 0,
    availableReplicas: s.availableReplicas ?? 0,
    unavailableReplicas: s.unavailableReplicas ?? 0,
    conditions: (s.conditions ?? []).map((c) => ({
      type: c.type,
      status: c.status,
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.message ? { message: c.message } : {}),
      ...(c.lastTransitionTime ? { lastTransitionTime: iso(c.lastTransitionTime) } : {}),
    })),
    generation: m.generation ?? 0,
    observedGeneration: s.observedGeneration ?? 0,
    resourceVersion: m.resourceVersion ?? '0',
    rollout: rolloutState(d),
    lastRequestId: m.annotations?.[REQUEST_ID_ANNOTATION] ?? null,
    k8sCreatedAt: iso(m.creationTimestamp) ?? null,
    deleted,
    fieldOwners: fieldOwnersOf(d, Object.keys(spec.labels ?? {}), Object.keys(spec.annotations ?? {})),
    managerTimes: managerTimesOf(d),
  };
}

/** A strong read: the live object in the record's shape, with the mirror's own columns from its row. */
export function entityFromLive(d: DeploymentObject, row: DeploymentEntity | null, now = new Date()): DeploymentEntity {
  // The live columns carry the mirror row's own names; `deleted` is the watch's, not a column.
  const live: Partial<MirrorRow> = toMirrorRow(d);
  delete live.deleted;
  const e = new DeploymentEntity();
  Object.assign(e, {
    ...live,
    drifted: row?.drifted ?? false,
    drift: row?.drift ?? null,
    k8sCreatedAt: live.k8sCreatedAt ? new Date(live.k8sCreatedAt) : null,
    createdAt: row?.createdAt ?? now,
    updatedAt: row?.updatedAt ?? now,
    deletedAt: null,
    syncedAt: now,
  });
  return e;
}
