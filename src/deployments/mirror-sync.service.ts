import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { KubernetesGateway, ListPage } from '../kubernetes/kubernetes.gateway.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { NamespacePolicy } from '../domain/namespace-policy.js';
import { DeploymentsRepository } from './deployments.repository.js';
import { toMirrorRow } from './mirror-row.mapper.js';
import { scopeIncludes, watchScopes, WatchScope } from '../watcher/watch-scope.js';
import { WatcherStateRepository } from '../watcher/watcher-state.repository.js';
import { MirrorRow } from './mirror-row.mapper.js';
import { RolloutReceipts } from '../requests/rollout-receipts.service.js';
import {
  assertWellFormedResourceVersion,
  compareResourceVersions,
  isWellFormedResourceVersion,
} from './resource-version.js';

/** Why a list replaced the mirror whatever versions it held. */
export type MirrorResetReason = 'cluster_changed' | 'history_rewound';

export interface SyncCounts {
  inserted: number;
  updated: number;
  markedDeleted: number;
  /** Deployments Kubernetes listed. */
  total: number;
  /** Scopes whose list was taken as authoritative (another cluster, or an etcd history that went back). */
  resets?: { scope: string; reason: MirrorResetReason }[];
  /** Malformed resourceVersions met (stored rows, the saved position, listed objects): reported, never trusted. */
  invalidResourceVersions?: number;
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
    private readonly receipts: RolloutReceipts,
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
      if (r.resets?.length) (sum.resets ??= []).push(...r.resets);
      if (r.invalidResourceVersions)
        sum.invalidResourceVersions = (sum.invalidResourceVersions ?? 0) + r.invalidResourceVersions;
    }
    return sum;
  }

  /**
   * Where a restarting watch may resume: the saved position, unless it is malformed or was
   * saved in another cluster (then undefined: relist).
   */
  async resumePosition(scope: WatchScope): Promise<string | undefined> {
    const saved = await this.state.find(scope.key);
    const rv = saved?.resourceVersion;
    if (!rv) return undefined;
    if (!isWellFormedResourceVersion(rv)) {
      this.reportInvalid('watcher_state', `the saved position of ${scope.key}`, rv);
      return undefined;
    }
    if (saved.clusterUid && saved.clusterUid !== (await this.gateway.clusterUid())) {
      this.logger.warn(`the position of ${scope.key} was saved in another cluster; relisting instead of resuming`);
      return undefined;
    }
    // A watch from a version the cluster has not reached (a restored etcd) just waits
    // silently, so ask for the current version first: a one-item list is cheap.
    const pages = this.gateway.listDeployments({
      namespace: scope.namespace,
      labelSelector: scope.labelSelector,
      pageSize: 1,
    });
    const first = await pages.next();
    await pages.return(undefined);
    const current = first.done ? undefined : first.value.resourceVersion;
    if (isWellFormedResourceVersion(current) && compareResourceVersions(current, rv) < 0) {
      this.logger.warn(
        `the position ${rv} of ${scope.key} is ahead of the cluster (${current}): another etcd history; relisting`,
      );
      return undefined;
    }
    return rv;
  }

  /**
   * One scope's list and diff. Normally every write is guarded by resourceVersion. When the
   * cluster is another one (kube-system's uid changed) or its history went back (the list
   * is older than the saved position: a restored etcd), stored versions mean nothing: the
   * list is taken as authoritative and replaces rows and position whatever they hold;
   * otherwise every upsert would be refused and the mirror would freeze.
   */
  async syncScope(scope: WatchScope, reason: RelistReason): Promise<ScopeSyncResult> {
    const started = Date.now();
    const result: ScopeSyncResult = { inserted: 0, updated: 0, markedDeleted: 0, total: 0, resourceVersion: '' };
    const present: { namespace: string; name: string }[] = [];
    let invalid = 0;
    const saved = await this.state.find(scope.key);
    const clusterUid = await this.gateway.clusterUid();
    let savedRv = saved?.resourceVersion ?? undefined;
    if (savedRv && !isWellFormedResourceVersion(savedRv)) {
      this.reportInvalid('watcher_state', `the saved position of ${scope.key}`, savedRv);
      invalid++;
      savedRv = undefined;
    }
    let reset: MirrorResetReason | undefined =
      saved?.clusterUid && saved.clusterUid !== clusterUid ? 'cluster_changed' : undefined;
    const badRows = await this.deployments.malformedResourceVersions(scope);
    for (const r of badRows) this.reportInvalid('mirror_row', `mirror row ${r.namespace}/${r.name}`, r.resourceVersion);
    invalid += badRows.length;
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
      if (!result.resourceVersion) {
        // Every page of one list shares the first page's snapshot: decide before writing anything.
        if (!isWellFormedResourceVersion(page.resourceVersion)) {
          this.metrics.invalidResourceVersions.inc({ source: 'list' });
          await pages.return(undefined).catch(() => undefined);
        }
        assertWellFormedResourceVersion(page.resourceVersion, `the list of ${scope.key}`);
        result.resourceVersion = page.resourceVersion;
        if (!reset && savedRv && compareResourceVersions(result.resourceVersion, savedRv) < 0)
          reset = 'history_rewound';
        if (reset) {
          this.metrics.mirrorResets.inc({ reason: reset });
          this.logger.warn(
            `${reset === 'cluster_changed' ? `the cluster changed (kube-system uid ${saved?.clusterUid} -> ${clusterUid})` : `the list at ${result.resourceVersion} is older than the saved position ${savedRv} (a restored etcd?)`}: ` +
              `taking the list of ${scope.key} as authoritative and resetting the position`,
          );
        }
      }
      const rows: MirrorRow[] = [];
      const listedBefore = present.length;
      for (const d of page.items) {
        if (!scopeIncludes(scope, d.metadata?.namespace)) continue;
        const row = toMirrorRow(d);
        // Kept as present, so it is not marked deleted; not written, since its version cannot be compared.
        present.push({ namespace: row.namespace, name: row.name });
        if (isWellFormedResourceVersion(row.resourceVersion)) rows.push(row);
        else {
          this.reportInvalid('list', `listed Deployment ${row.namespace}/${row.name}`, row.resourceVersion);
          invalid++;
        }
      }
      const counts = await this.deployments.upsertMany(rows, !!reset);
      result.inserted += counts.inserted;
      result.updated += counts.updated;
      result.total += present.length - listedBefore;
    }
    assertWellFormedResourceVersion(result.resourceVersion || undefined, `the list of ${scope.key}`);
    result.markedDeleted = await this.deployments.markAbsentDeleted(scope, present, result.resourceVersion, !!reset);
    await this.state.recordRelist(scope.key, result.resourceVersion, reason, clusterUid, !!reset);
    await this.receipts.advanceQuietly();
    if (reset) result.resets = [{ scope: scope.key, reason: reset }];
    if (invalid) result.invalidResourceVersions = invalid;
    this.metrics.watcherRelists.inc({ reason });
    this.logger.log(
      `relist (${reason}) of ${scope.namespace ?? 'all namespaces'}: ${result.total} listed, ${result.inserted} inserted, ` +
        `${result.updated} updated, ${result.markedDeleted} marked deleted at resourceVersion ${result.resourceVersion} ` +
        `in ${Date.now() - started} ms`,
    );
    return result;
  }

  /** After a watch event's mirror write: moves the rollout receipts of those Deployments. */
  afterMirrorWrite(targets: { namespace: string; name: string }[]): Promise<void> {
    return this.receipts.advanceQuietly(targets);
  }

  /** A resourceVersion that breaks KEP-5504's rules: logged and counted, never compared. */
  reportInvalid(source: 'list' | 'watch' | 'mirror_row' | 'watcher_state', what: string, rv: unknown) {
    this.metrics.invalidResourceVersions.inc({ source });
    this.logger.warn(
      `${what} has a malformed resourceVersion ${JSON.stringify(rv)} (expected a positive integer without leading zeros); ` +
        `not trusted`,
    );
  }
}
