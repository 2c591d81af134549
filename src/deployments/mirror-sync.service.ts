import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { KubernetesGateway, ListPage } from '../kubernetes/kubernetes.gateway.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { NamespacePolicy } from '../requests/namespace-policy.js';
import { DeploymentsRepository } from './deployments.repository.js';
import { toMirrorRow } from './mirror-row.mapper.js';
import { scopeIncludes, watchScopes, WatchScope } from './watch-scope.js';
import { WatcherStateRepository } from './watcher-state.repository.js';

export interface SyncCounts {
  inserted: number;
  updated: number;
  markedDeleted: number;
  /** Deployments Kubernetes listed. */
  total: number;
}

export interface ScopeSyncResult extends SyncCounts {
  /** The list's resourceVersion: a watch started here misses nothing. */
  resourceVersion: string;
}

/** Why a full list ran; the label of dm_watcher_relists_total. */
export type RelistReason = 'initial' | 'gone' | 'watchdog' | 'reconnect' | 'periodic' | 'repair';

/**
 * The list half of list+watch, as a diff: list a scope in pages, upsert what is missing
 * or stale, then soft-delete the rows Kubernetes no longer has. Safe to run at any time
 * and from any process (the watcher after 410/reconnect/watchdog and periodically, the
 * reconciler's mirror repair), concurrently with a running watch: every write is guarded
 * by resourceVersion.
 */
@Injectable()
export class MirrorSyncService {
  private readonly logger = new Logger(MirrorSyncService.name);
  readonly scopes: WatchScope[];

  constructor(
    private readonly config: AppConfig,
    private readonly gateway: KubernetesGateway,
    private readonly deployments: DeploymentsRepository,
    private readonly state: WatcherStateRepository,
    private readonly metrics: MetricsService,
    policy: NamespacePolicy,
  ) {
    this.scopes = watchScopes(config, policy);
  }

  /** Lists and diffs every managed scope; what the reconciler's "mirror repair" calls. */
  async resync(reason: RelistReason = 'repair'): Promise<SyncCounts> {
    const sum: SyncCounts = { inserted: 0, updated: 0, markedDeleted: 0, total: 0 };
    for (const scope of this.scopes) {
      const r = await this.syncScope(scope, reason);
      sum.inserted += r.inserted;
      sum.updated += r.updated;
      sum.markedDeleted += r.markedDeleted;
      sum.total += r.total;
    }
    return sum;
  }

  async syncScope(scope: WatchScope, reason: RelistReason): Promise<ScopeSyncResult> {
    const started = Date.now();
    const result: ScopeSyncResult = { inserted: 0, updated: 0, markedDeleted: 0, total: 0, resourceVersion: '' };
    const present: { namespace: string; name: string }[] = [];
    const pages = this.gateway.listDeployments({
      namespace: scope.namespace,
      labelSelector: scope.labelSelector,
      pageSize: this.config.WATCHER_LIST_PAGE_SIZE,
    });
    // Fetch the next page while the current one is written; at most two pages are held.
    let next: Promise<IteratorResult<ListPage>> = pages.next();
    for (;;) {
      const { value: page, done } = await next;
      if (done) break;
      next = pages.next();
      next.catch(() => undefined); // surfaced by the await above on the next turn
      result.resourceVersion = page.resourceVersion || result.resourceVersion;
      const rows = page.items.filter((d) => scopeIncludes(scope, d.metadata?.namespace)).map((d) => toMirrorRow(d));
      for (const r of rows) present.push({ namespace: r.namespace, name: r.name });
      const counts = await this.deployments.upsertMany(rows);
      result.inserted += counts.inserted;
      result.updated += counts.updated;
      result.total += rows.length;
    }
    if (!/^\d+$/.test(result.resourceVersion)) {
      throw new Error(`list of ${scope.key} returned no usable resourceVersion ("${result.resourceVersion}")`);
    }
    result.markedDeleted = await this.deployments.markAbsentDeleted(scope, present, result.resourceVersion);
    await this.state.recordRelist(scope.key, result.resourceVersion, reason);
    this.metrics.watcherRelists.inc({ reason });
    this.logger.log(
      `relist (${reason}) of ${scope.namespace ?? 'all namespaces'}: ${result.total} listed, ${result.inserted} inserted, ` +
        `${result.updated} updated, ${result.markedDeleted} marked deleted at resourceVersion ${result.resourceVersion} ` +
        `in ${Date.now() - started} ms`,
    );
    return result;
  }
}
