import type { DeploymentObject } from '../kubernetes/kubernetes.gateway.js';

type ManagedFieldsEntry = NonNullable<NonNullable<DeploymentObject['metadata']>['managedFields']>[number];

/** The drift fields (reconciler/drift.ts), by the field managers that own any part of them. */
export type FieldOwners = Partial<Record<OwnedField, string[]>>;
export type OwnedField = 'image' | 'replicas' | 'containerPort' | 'env' | 'resources' | 'labels' | 'annotations';

type FieldsV1 = Record<string, unknown>;

const sub = (node: unknown, key: string): FieldsV1 | undefined => {
  const v = (node as FieldsV1 | undefined)?.[key];
  return v && typeof v === 'object' ? (v as FieldsV1) : undefined;
};

/** `k:{"name":"app"}`: a list element keyed by its name. */
function containerNode(containers: FieldsV1 | undefined, name: string): FieldsV1 | undefined {
  for (const [k, v] of Object.entries(containers ?? {})) {
    if (!k.startsWith('k:')) continue;
    try {
      if ((JSON.parse(k.slice(2)) as { name?: unknown }).name === name) return v as FieldsV1;
    } catch {
      // not a key we understand: nothing of ours
    }
  }
  return undefined;
}

/** Any user key (a live label or annotation the spec reports) in a map's field set. */
const ownsAnyKey = (map: FieldsV1 | undefined, keys: Set<string>) =>
  Object.keys(map ?? {}).some((k) => k.startsWith('f:') && keys.has(k.slice(2)));

const nonEmpty = (n: FieldsV1 | undefined) => !!n && Object.keys(n).length > 0;

/**
 * Which field managers own each drift field now, read from metadata.managedFields
 * (fieldsV1 sets: `f:spec` → `f:replicas`, the container `k:{"name":…}` → `f:image`, …).
 * Labels and annotations count only the keys the spec reports (not the system ones),
 * so the controller's revision annotation does not make them foreign. Only this small
 * map is kept in the mirror, never managedFields itself.
 */
export function fieldOwnersOf(
  d: DeploymentObject,
  userLabels: string[] = [],
  userAnnotations: string[] = [],
): FieldOwners {
  const container = d.spec?.template?.spec?.containers?.[0]?.name;
  const labels = new Set(userLabels);
  const annotations = new Set(userAnnotations);
  const owners: FieldOwners = {};
  const add = (field: OwnedField, manager: string) => {
    const list = (owners[field] ??= []);
    if (!list.includes(manager)) list.push(manager);
  };
  for (const entry of (d.metadata?.managedFields ?? []) as ManagedFieldsEntry[]) {
    const manager = entry.manager ?? '';
    const f = entry.fieldsV1 as FieldsV1 | undefined;
    if (!manager || !f) continue;
    const spec = sub(f, 'f:spec');
    if (spec && 'f:replicas' in spec) add('replicas', manager);
    const c = container
      ? containerNode(sub(sub(sub(spec, 'f:template'), 'f:spec'), 'f:containers'), container)
      : undefined;
    if (c && 'f:image' in c) add('image', manager);
    if (nonEmpty(sub(c, 'f:ports'))) add('containerPort', manager);
    if (nonEmpty(sub(c, 'f:env'))) add('env', manager);
    if (nonEmpty(sub(c, 'f:resources'))) add('resources', manager);
    const meta = sub(f, 'f:metadata');
    if (ownsAnyKey(sub(meta, 'f:labels'), labels)) add('labels', manager);
    if (ownsAnyKey(sub(meta, 'f:annotations'), annotations)) add('annotations', manager);
  }
  for (const list of Object.values(owners)) list.sort();
  return owners;
}

/** The drift fields some manager other than ours owns, with those managers. */
export function foreignOwners(owners: FieldOwners | null | undefined, fields: string[], ours: string) {
  const out: { field: string; manager: string }[] = [];
  for (const field of fields) {
    for (const manager of owners?.[field as OwnedField] ?? []) if (manager !== ours) out.push({ field, manager });
  }
  return out;
}

/**
 * When each field manager last changed the object: manager → ISO time, from managedFields[].time.
 * null: Kubernetes gave no time (updates through the scale subresource, as `kubectl scale` and
 * the HPA controller make, carry none); the mirror then stamps when it saw that manager's fields change.
 */
export type ManagerTimes = Record<string, string | null>;

/** ManagerTimes as the mirror stores them: a stamp the mirror made is `{seenAt}` (see the repository). */
export type StoredManagerTimes = Record<string, string | null | { seenAt: string }>;

/** A stored manager time as an ISO time, or null. */
export const managerTime = (v: StoredManagerTimes[string] | undefined): string | null =>
  v == null ? null : typeof v === 'string' ? v : (v.seenAt ?? null);

/** The latest managedFields time of each manager (one manager may have several entries: Apply and Update, or the scale subresource). */
export function managerTimesOf(d: DeploymentObject): ManagerTimes {
  const times: ManagerTimes = {};
  for (const entry of (d.metadata?.managedFields ?? []) as ManagedFieldsEntry[]) {
    if (!entry.manager) continue;
    const t = entry.time ? new Date(entry.time).toISOString() : null;
    const seen = times[entry.manager];
    if (!(entry.manager in times) || (t && (!seen || seen < t))) times[entry.manager] = t;
  }
  return times;
}

/** A field manager that owns a field now, and when it last changed the object (null: unknown). */
export interface FieldManagerStamp {
  manager: string;
  changedAt: string | null;
}

/**
 * The reconciler's judgement of one Deployment (stored on its mirror row):
 * - `fields`: drifted fields, each with the managers that own it now;
 * - `managedElsewhere`: fields that differ but another controller manages by design (an
 *   HPA's replicas): not drift, never healed.
 */
export interface DriftReport {
  checkedAt: string;
  fields: { field: OwnedField; managers: FieldManagerStamp[] }[];
  managedElsewhere: ({ field: OwnedField } & FieldManagerStamp)[];
}

/**
 * Splits the fields that differ from the desired spec into drift (with who owns each now)
 * and fields managed elsewhere: owned by one of `elsewhere` (not by us), e.g. the HPA
 * controller's replicas. A drifted field nobody else owns is reported with its owners as
 * they are (often ours alone, when the change came through a path that keeps ownership).
 */
export function attributeDrift(
  fields: string[],
  owners: FieldOwners | null | undefined,
  times: StoredManagerTimes | null | undefined,
  elsewhere: ReadonlySet<string>,
  checkedAt: string,
): DriftReport {
  const stamp = (manager: string): FieldManagerStamp => ({ manager, changedAt: managerTime(times?.[manager]) });
  const report: DriftReport = { checkedAt, fields: [], managedElsewhere: [] };
  for (const field of fields as OwnedField[]) {
    const managers = owners?.[field] ?? [];
    const external = managers.filter((m) => elsewhere.has(m));
    if (external.length) for (const m of external) report.managedElsewhere.push({ field, ...stamp(m) });
    else report.fields.push({ field, managers: managers.map(stamp) });
  }
  return report;
}
