import type { DeploymentObject } from '../kubernetes/kubernetes.gateway.js';
import { REQUEST_ID_ANNOTATION } from '../domain/deployment-spec.js';
import { specFromDeployment } from '../kubernetes/manifest.js';
import type { DeploymentSpec } from '../domain/deployment-spec.js';
import { DeploymentCondition, DeploymentEntity, RolloutState } from './deployment.entity.js';
import { FieldOwners, fieldOwnersOf } from './field-owners.js';
import { rolloutState } from './rollout-state.js';

/** What the watcher writes for one Deployment: every column Kubernetes decides. */
export interface MirrorRow {
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  images: string[];
  spec: DeploymentSpec;
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
}

const iso = (d: Date | undefined): string | undefined => (d ? new Date(d).toISOString() : undefined);

export function toMirrorRow(d: DeploymentObject, deleted = false): MirrorRow {
  const m = d.metadata ?? {};
  const s = d.status ?? {};
  const spec = specFromDeployment(d);
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
    k8sCreatedAt: live.k8sCreatedAt ? new Date(live.k8sCreatedAt) : null,
    createdAt: row?.createdAt ?? now,
    updatedAt: row?.updatedAt ?? now,
    deletedAt: null,
    syncedAt: now,
  });
  return e;
}
