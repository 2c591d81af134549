import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { WatcherStateEntity } from './watcher-state.entity.js';
import { sqlRvOlder } from '../deployments/resource-version.js';

export interface MirrorFreshness {
  /** The mirror matched Kubernetes at this time (last event, bookmark or list); null before any sync. */
  syncedAt: Date | null;
  lastEventAt: Date | null;
}

// The position only moves forward, whoever writes it (watcher, relist, reconciler repair);
// callers write well-formed versions only, and a malformed stored one is replaced.
const NEWER_RV = `CASE WHEN s.resource_version IS NULL OR ${sqlRvOlder('s.resource_version', 'EXCLUDED.resource_version')}
                  THEN EXCLUDED.resource_version ELSE s.resource_version END`;

/** All SQL about watcher_state: one row per watch scope. */
@Injectable()
export class WatcherStateRepository {
  constructor(@InjectRepository(WatcherStateEntity) private readonly repo: Repository<WatcherStateEntity>) {}

  find(scope: string): Promise<WatcherStateEntity | null> {
    return this.repo.findOneBy({ scope });
  }

  findMany(scopes: string[]): Promise<WatcherStateEntity[]> {
    return scopes.length ? this.repo.findBy({ scope: In(scopes) }) : Promise.resolve([]);
  }

  /** After events or a bookmark up to resourceVersion have been committed. */
  async recordPosition(scope: string, resourceVersion: string, contactAt: Date): Promise<void> {
    await this.repo.query(
      `INSERT INTO watcher_state AS s (scope, resource_version, last_event_at, updated_at)
       VALUES ($1, $2, $3, now())
       ON CONFLICT (scope) DO UPDATE SET resource_version = ${NEWER_RV},
         last_event_at = greatest(s.last_event_at, EXCLUDED.last_event_at), updated_at = now()`,
      [scope, resourceVersion, contactAt],
    );
  }

  /**
   * After a full list at resourceVersion has been diffed into the mirror, in the cluster
   * whose kube-system uid is clusterUid. `reset` (another cluster, a rewound history)
   * replaces the position even when the stored one looks newer.
   */
  async recordRelist(
    scope: string,
    resourceVersion: string,
    reason: string,
    clusterUid: string | null = null,
    reset = false,
  ): Promise<void> {
    await this.repo.query(
      `INSERT INTO watcher_state AS s (scope, resource_version, last_relist_at, last_relist_reason, cluster_uid, updated_at)
       VALUES ($1, $2, now(), $3, $4, now())
       ON CONFLICT (scope) DO UPDATE SET
         resource_version = CASE WHEN $5::boolean THEN EXCLUDED.resource_version ELSE ${NEWER_RV} END,
         cluster_uid = coalesce(EXCLUDED.cluster_uid, s.cluster_uid),
         last_relist_at = now(), last_relist_reason = EXCLUDED.last_relist_reason, updated_at = now()`,
      [scope, resourceVersion, reason, clusterUid, reset],
    );
  }

  async recordLeader(scopes: string[], identity: string): Promise<void> {
    await this.repo.query(
      `INSERT INTO watcher_state AS s (scope, leader_identity, leader_since, updated_at)
       SELECT unnest($1::text[]), $2, now(), now()
       ON CONFLICT (scope) DO UPDATE SET leader_identity = EXCLUDED.leader_identity,
         leader_since = EXCLUDED.leader_since, updated_at = now()`,
      [scopes, identity],
    );
  }

  /** Testing and operations: forget a scope's position so the next start relists. */
  async forget(scope: string): Promise<void> {
    await this.repo.delete({ scope });
  }

  /**
   * How fresh the mirror is over these scopes: the stalest of them bounds it. A scope no
   * watcher has synced yet makes the whole answer unknown (null).
   */
  async freshness(scopes: string[]): Promise<MirrorFreshness> {
    const rows = await this.findMany(scopes);
    if (rows.length < scopes.length || rows.length === 0) return { syncedAt: null, lastEventAt: null };
    const contact = (r: WatcherStateEntity) =>
      Math.max(r.lastEventAt?.getTime() ?? -Infinity, r.lastRelistAt?.getTime() ?? -Infinity);
    const synced = Math.min(...rows.map(contact));
    const events = rows.map((r) => r.lastEventAt?.getTime());
    return {
      syncedAt: Number.isFinite(synced) ? new Date(synced) : null,
      lastEventAt: events.every((t) => t !== undefined) ? new Date(Math.min(...(events as number[]))) : null,
    };
  }
}
