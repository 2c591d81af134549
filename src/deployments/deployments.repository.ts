import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PROTECTED_NAMESPACES } from '../domain/namespace-policy.js';
import type { NamespaceScope } from '../domain/principal.js';
import { namespaceScopeWhere } from '../database/namespace-scope-sql.js';
import { DeploymentEntity, RolloutState } from './deployment.entity.js';
import type { MirrorRow, MirrorSpec } from './mirror-row.mapper.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type DeploymentSpecPatch } from '../domain/deployment-spec.js';
import type { WatchScope } from '../watcher/watch-scope.js';
import type { DriftReport, FieldOwners, StoredManagerTimes } from './field-owners.js';
import { isWellFormedResourceVersion, RV_PATTERN_SQL, sqlRvAtMost, sqlRvOlder } from './resource-version.js';

export interface DeploymentFilter {
  namespace?: string;
  /** Every pair must match (jsonb containment, served by the GIN index). */
  labels?: Record<string, string>;
  rollout?: RolloutState;
  drifted?: boolean;
  includeDeleted?: boolean;
  /** Keyset: rows strictly after this (namespace, name). */
  after?: [string, string];
  limit: number;
  /** Only rows in these namespaces (an API key's scope); undefined: all. */
  scope?: NamespaceScope;
}

/** What the mirror knows of one Deployment that lets the worker write to it without reading it first. */
export interface MirrorWriteBasis {
  uid: string;
  resourceVersion: string;
  generation: number;
  /** It carries our managed-by label. */
  managed: boolean;
  deleted: boolean;
  spec: MirrorSpec | null;
}

/** A live row's managed fields and who owns them (liveSpecs). */
export interface LiveSpecRow {
  namespace: string;
  name: string;
  spec: DeploymentSpecPatch | null;
  fieldOwners: FieldOwners | null;
  managerTimes: StoredManagerTimes | null;
}

export interface UpsertCounts {
  inserted: number;
  updated: number;
}

/** a is newer than b by KEP-5504's order; a malformed version is older than any well-formed one. */
function newer(a: string, b: string): boolean {
  if (!isWellFormedResourceVersion(a)) return false;
  if (!isWellFormedResourceVersion(b)) return true;
  return a.length !== b.length ? a.length > b.length : a > b;
}

const SEEN_NOW = `jsonb_build_object('seenAt', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;

/**
 * SQL for the manager_times to store. A manager Kubernetes gave a time keeps it. One without
 * (the scale subresource records none) is stamped {seenAt} when the mirror sees it: on insert,
 * and on update when it is new or a field it owns changed value; otherwise it keeps its stamp.
 * On update, `times` is the inserted candidate (EXCLUDED), already stamped.
 */
function stampedManagerTimes(times: string, old?: { times: string; owners: string; spec: string; oldSpec: string }) {
  const fresh = old
    ? `CASE WHEN ${old.times}->t.k IS NOT NULL AND jsonb_typeof(${old.times}->t.k) <> 'null' AND NOT EXISTS (
          SELECT 1 FROM jsonb_each(coalesce(${old.owners}, '{}')) AS o(f, ms)
          WHERE o.ms ? t.k AND (${old.spec}->o.f) IS DISTINCT FROM (${old.oldSpec}->o.f))
        THEN ${old.times}->t.k ELSE t.v END`
    : SEEN_NOW;
  return `(SELECT coalesce(jsonb_object_agg(t.k, CASE WHEN jsonb_typeof(t.v) = 'string' THEN t.v ELSE ${fresh} END), '{}')
    FROM jsonb_each(coalesce(${times}, '{}')) AS t(k, v))`;
}

/** Keeps the newest version of each object, since one INSERT … ON CONFLICT may touch a row only once. */
export function newestPerKey(rows: MirrorRow[]): MirrorRow[] {
  const byKey = new Map<string, MirrorRow>();
  for (const r of rows) {
    const key = `${r.namespace}/${r.name}`;
    const seen = byKey.get(key);
    if (!seen || newer(r.resourceVersion, seen.resourceVersion)) byKey.set(key, r);
  }
  return [...byKey.values()];
}

/**
 * All SQL about the deployments mirror. Writes are guarded by resourceVersion, which
 * etcd hands out from one increasing counter, so they are idempotent, may run in any
 * order or concurrently (watch, relist, the reconciler's repair), and never move a row
 * backwards. `drifted` belongs to the reconciler and is never written here.
 */
@Injectable()
export class DeploymentsRepository {
  constructor(@InjectRepository(DeploymentEntity) private readonly repo: Repository<DeploymentEntity>) {}

  /**
   * Inserts new objects and updates rows older than the given version; deleted rows get
   * deleted_at. Callers pass well-formed versions only; a stored malformed one counts as
   * older. `authoritative` (a list from another cluster or a rewound history) replaces
   * rows whatever version they hold.
   */
  async upsertMany(input: MirrorRow[], authoritative = false): Promise<UpsertCounts> {
    if (input.length === 0) return { inserted: 0, updated: 0 };
    const rows = newestPerKey(input).map((r) => ({
      namespace: r.namespace,
      name: r.name,
      uid: r.uid,
      labels: r.labels,
      images: r.images,
      spec: r.spec,
      desired_replicas: r.desiredReplicas,
      ready_replicas: r.readyReplicas,
      updated_replicas: r.updatedReplicas,
      available_replicas: r.availableReplicas,
      unavailable_replicas: r.unavailableReplicas,
      conditions: r.conditions,
      generation: r.generation,
      observed_generation: r.observedGeneration,
      resource_version: r.resourceVersion,
      rollout: r.rollout,
      last_request_id: r.lastRequestId,
      k8s_created_at: r.k8sCreatedAt,
      deleted: r.deleted,
      field_owners: r.fieldOwners,
      manager_times: r.managerTimes,
    }));
    const result: { inserted: boolean }[] = await this.repo.query(
      `INSERT INTO deployments AS d (
         namespace, name, uid, labels, images, spec, desired_replicas, ready_replicas, updated_replicas,
         available_replicas, unavailable_replicas, conditions, generation, observed_generation, resource_version,
         rollout, last_request_id, k8s_created_at, updated_at, deleted_at, synced_at, field_owners, manager_times)
       SELECT x.namespace, x.name, x.uid, x.labels, x.images, x.spec, x.desired_replicas, x.ready_replicas,
              x.updated_replicas, x.available_replicas, x.unavailable_replicas, x.conditions, x.generation,
              x.observed_generation, x.resource_version, x.rollout, x.last_request_id, x.k8s_created_at,
              clock_timestamp(), CASE WHEN x.deleted THEN clock_timestamp() END, clock_timestamp(),
              coalesce(x.field_owners, '{}'), ${stampedManagerTimes('x.manager_times')}
       FROM jsonb_to_recordset($1::jsonb) AS x(
         namespace text, name text, uid uuid, labels jsonb, images jsonb, spec jsonb, desired_replicas int,
         ready_replicas int, updated_replicas int, available_replicas int, unavailable_replicas int,
         conditions jsonb, generation bigint, observed_generation bigint, resource_version text, rollout text,
         last_request_id text, k8s_created_at timestamptz, deleted boolean, field_owners jsonb,
         manager_times jsonb)
       ON CONFLICT (namespace, name) DO UPDATE SET
         uid = EXCLUDED.uid, labels = EXCLUDED.labels, images = EXCLUDED.images, spec = EXCLUDED.spec,
         desired_replicas = EXCLUDED.desired_replicas, ready_replicas = EXCLUDED.ready_replicas,
         updated_replicas = EXCLUDED.updated_replicas, available_replicas = EXCLUDED.available_replicas,
         unavailable_replicas = EXCLUDED.unavailable_replicas, conditions = EXCLUDED.conditions,
         generation = EXCLUDED.generation, observed_generation = EXCLUDED.observed_generation,
         resource_version = EXCLUDED.resource_version, rollout = EXCLUDED.rollout,
         last_request_id = EXCLUDED.last_request_id, k8s_created_at = EXCLUDED.k8s_created_at,
         updated_at = EXCLUDED.updated_at, synced_at = EXCLUDED.synced_at, field_owners = EXCLUDED.field_owners,
         manager_times = ${stampedManagerTimes('EXCLUDED.manager_times', {
           times: 'd.manager_times',
           owners: 'EXCLUDED.field_owners',
           spec: 'EXCLUDED.spec',
           oldSpec: 'd.spec',
         })},
         deleted_at = CASE WHEN EXCLUDED.deleted_at IS NULL THEN NULL ELSE coalesce(d.deleted_at, EXCLUDED.deleted_at) END
       WHERE $2::boolean OR ${sqlRvOlder('d.resource_version', 'EXCLUDED.resource_version')}
       RETURNING (xmax = 0) AS inserted`,
      [JSON.stringify(rows), authoritative],
    );
    const inserted = result.filter((r) => r.inserted).length;
    return { inserted, updated: result.length - inserted };
  }

  /**
   * The deletion half of a list diff: live rows in the scope that the list at
   * `listResourceVersion` did not contain. Rows written after that list (by a watch event
   * newer than it) are left alone; marked rows take the list's version so an older event
   * arriving late cannot bring them back. The difference is taken here rather than in
   * SQL: an anti-join against a 10,000-element unnest is planned as a nested loop.
   * `authoritative` marks every absent row, whatever version it holds.
   */
  async markAbsentDeleted(
    scope: WatchScope,
    present: { namespace: string; name: string }[],
    listResourceVersion: string,
    authoritative = false,
  ): Promise<number> {
    const params: unknown[] = [listResourceVersion, authoritative];
    const where = this.scopeCondition(scope, params);
    const live: { namespace: string; name: string }[] = await this.repo.query(
      `SELECT d.namespace, d.name FROM deployments d
       WHERE d.deleted_at IS NULL AND ${where} AND ($2::boolean OR ${sqlRvAtMost('d.resource_version', '$1::text')})`,
      params,
    );
    const listed = new Set(present.map((p) => `${p.namespace}/${p.name}`));
    const absent = live.filter((r) => !listed.has(`${r.namespace}/${r.name}`));
    if (absent.length === 0) return 0;
    const res: [unknown[], number] = await this.repo.query(
      `UPDATE deployments d
       SET deleted_at = clock_timestamp(), updated_at = clock_timestamp(), synced_at = clock_timestamp(), resource_version = $3
       FROM unnest($1::text[], $2::text[]) AS k(namespace, name)
       WHERE d.namespace = k.namespace AND d.name = k.name
         AND d.deleted_at IS NULL AND ($4::boolean OR ${sqlRvAtMost('d.resource_version', '$3::text')})`,
      [absent.map((a) => a.namespace), absent.map((a) => a.name), listResourceVersion, authoritative],
    );
    return res[1];
  }

  /**
   * One keyset page of live rows' managed fields and who owns them, in (namespace, name)
   * order, for the reconciler's drift check: it walks the mirror a page at a time, so a pass
   * holds one page of specs rather than all of them.
   */
  async liveSpecs(after: [string, string] | undefined, limit: number): Promise<LiveSpecRow[]> {
    return this.repo.query(
      `SELECT namespace, name, spec, field_owners AS "fieldOwners", manager_times AS "managerTimes"
       FROM deployments WHERE deleted_at IS NULL ${after ? 'AND (namespace, name) > ($2::text, $3::text)' : ''}
       ORDER BY namespace, name LIMIT $1`,
      after ? [limit, after[0], after[1]] : [limit],
    );
  }

  /**
   * Sets `drifted` on exactly the given deployments and clears it everywhere else, except
   * on `unjudged` ones (skipped this pass: a request is in flight), which keep their flag.
   * `drift` (the report: who owns each drifted field) goes with it; `managedElsewhereOnly`
   * rows differ only in fields another controller manages: not drifted, but their report is kept.
   */
  async markDrifted(
    drifted: { namespace: string; name: string; report?: DriftReport }[],
    unjudged: { namespace: string; name: string }[] = [],
    managedElsewhereOnly: { namespace: string; name: string; report: DriftReport }[] = [],
  ): Promise<void> {
    const judged = [
      ...drifted.map((d) => ({ namespace: d.namespace, name: d.name, drifted: true, drift: d.report ?? null })),
      ...managedElsewhereOnly.map((d) => ({ namespace: d.namespace, name: d.name, drifted: false, drift: d.report })),
    ];
    await this.repo.query(
      `UPDATE deployments d SET drifted = coalesce(k.drifted, false), drift = k.drift
       FROM deployments d2 LEFT JOIN jsonb_to_recordset($1::jsonb) AS k(namespace text, name text, drifted boolean, drift jsonb)
         ON k.namespace = d2.namespace AND k.name = d2.name
       WHERE d.namespace = d2.namespace AND d.name = d2.name
         AND (d.drifted IS DISTINCT FROM coalesce(k.drifted, false) OR d.drift IS DISTINCT FROM k.drift)
         AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS u(namespace, name)
                         WHERE u.namespace = d.namespace AND u.name = d.name)`,
      [JSON.stringify(judged), unjudged.map((d) => d.namespace), unjudged.map((d) => d.name)],
    );
  }

  /** Rows in the scope whose stored resourceVersion breaks KEP-5504's rules (reported, then replaced). */
  async malformedResourceVersions(
    scope: WatchScope,
  ): Promise<{ namespace: string; name: string; resourceVersion: string }[]> {
    const params: unknown[] = [];
    const where = this.scopeCondition(scope, params);
    return this.repo.query(
      `SELECT d.namespace, d.name, d.resource_version AS "resourceVersion" FROM deployments d
       WHERE ${where} AND d.resource_version !~ ${RV_PATTERN_SQL}`,
      params,
    );
  }

  /** The worker's basis for a write (deployment-applier.ts): only the columns it needs, no status or field owners. */
  async writeBasis(namespace: string, name: string): Promise<MirrorWriteBasis | null> {
    const rows: MirrorWriteBasis[] = await this.repo.query(
      `SELECT uid, resource_version AS "resourceVersion", generation::float8 AS generation,
              coalesce(labels->>$3 = $4, false) AS managed, deleted_at IS NOT NULL AS deleted, spec
       FROM deployments WHERE namespace = $1 AND name = $2`,
      [namespace, name, MANAGED_BY_LABEL, MANAGED_BY_VALUE],
    );
    return rows[0] ?? null;
  }

  findOne(namespace: string, name: string): Promise<DeploymentEntity | null> {
    return this.repo.findOneBy({ namespace, name });
  }

  /** One page in (namespace, name) order: the primary key makes the keyset cursor stable under inserts. */
  list(f: DeploymentFilter): Promise<DeploymentEntity[]> {
    const q = this.repo
      .createQueryBuilder('d')
      .orderBy('d.namespace', 'ASC')
      .addOrderBy('d.name', 'ASC')
      .limit(f.limit);
    if (!f.includeDeleted) q.andWhere('d.deleted_at IS NULL');
    const inScope = namespaceScopeWhere('d.namespace', f.scope);
    if (inScope) q.andWhere(inScope.sql, inScope.params);
    if (f.namespace) q.andWhere('d.namespace = :namespace', { namespace: f.namespace });
    if (f.labels && Object.keys(f.labels).length)
      q.andWhere('d.labels @> CAST(:labels AS jsonb)', { labels: JSON.stringify(f.labels) });
    if (f.rollout) q.andWhere('d.rollout = :rollout', { rollout: f.rollout });
    if (f.drifted !== undefined) q.andWhere('d.drifted = :drifted', { drifted: f.drifted });
    if (f.after)
      q.andWhere('(d.namespace, d.name) > (:afterNs, :afterName)', { afterNs: f.after[0], afterName: f.after[1] });
    return q.getMany();
  }

  /** SQL for "the row is in this scope", appending its parameters. */
  private scopeCondition(scope: WatchScope, params: unknown[]): string {
    if (scope.namespace) {
      params.push(scope.namespace);
      return `d.namespace = $${params.length}`;
    }
    const patterns = scope.patterns ?? [];
    params.push([...PROTECTED_NAMESPACES]);
    const notProtected = `d.namespace <> ALL($${params.length}::text[])`;
    if (patterns.includes('*')) return notProtected;
    params.push(patterns.filter((p) => !p.endsWith('*')));
    const exact = `d.namespace = ANY($${params.length}::text[])`;
    // Patterns are DNS labels plus a trailing *, so they hold no LIKE wildcards of their own.
    params.push(patterns.filter((p) => p.endsWith('*')).map((p) => `${p.slice(0, -1)}%`));
    const prefixed = `d.namespace LIKE ANY($${params.length}::text[])`;
    return `${notProtected} AND (${exact} OR ${prefixed})`;
  }
}
