import { Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DeploymentsRepository } from '../deployments/deployments.repository.js';
import { MirrorRow, toMirrorRow } from '../deployments/mirror-row.mapper.js';
import { MirrorSyncService, RelistReason } from '../deployments/mirror-sync.service.js';
import { isWellFormedResourceVersion } from '../deployments/resource-version.js';
import { scopeIncludes, WatchScope } from './watch-scope.js';
import { WatcherStateRepository } from './watcher-state.repository.js';
import type {
  DeploymentWatchEnd,
  DeploymentWatchEvent,
  DeploymentWatchHandle,
} from '../kubernetes/kubernetes.gateway.js';
import { KubernetesGateway } from '../kubernetes/kubernetes.gateway.js';
import { MetricsService } from '../metrics/metrics.service.js';

export interface StreamDeps {
  config: AppConfig;
  gateway: KubernetesGateway;
  sync: MirrorSyncService;
  deployments: DeploymentsRepository;
  state: WatcherStateRepository;
  metrics: MetricsService;
}

export type StreamPhase = 'starting' | 'listing' | 'watching' | 'backoff' | 'stopped';

interface Pending {
  row: MirrorRow;
  /** When the oldest change folded into this row arrived. */
  receivedAt: number;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
// How often the position is written at most: resuming replays at most this much, idempotently.
const POSITION_FLUSH_MS = 1000;
const randomBetween = (min: number, max: number) => Math.floor(min + Math.random() * (max - min));

/** Exponential backoff with ±20% jitter, so restarted watchers do not reconnect in step. */
export const backoffMs = (attempt: number) =>
  Math.round(Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt) * (0.8 + Math.random() * 0.4));

/**
 * One scope's list+watch loop, run while this process is the leader.
 *
 * - Starts from the position in watcher_state (the watch replays what happened while no
 *   watcher ran), or with a list when there is none.
 * - A server-side close resumes from the last position; 410 Gone, the watchdog and any
 *   error (after backoff) relist, and every list is diffed (MirrorSyncService).
 * - Events are coalesced per object while a write is in flight and written in batches,
 *   so a burst costs a few statements instead of one per event. The position is written
 *   only after the rows it covers.
 * - Lag is observed from an event's arrival to its commit. Kubernetes stamps objects only
 *   to the second (managedFields, conditions), and a status update does not even move its
 *   manager's stamp, so the object cannot say when a change was accepted; the benchmark
 *   measures the full Kubernetes-to-PostgreSQL path with millisecond stamps instead.
 */
export class DeploymentStream {
  private readonly logger: Logger;
  phase: StreamPhase = 'starting';
  lastContactAt = Date.now();
  lastError?: string;
  /** Newest version the stream has delivered. */
  private receivedRv?: string;
  /** Newest version whose changes are all committed, and when it was received. */
  private appliedRv?: string;
  private appliedContactAt = Date.now();
  private pending = new Map<string, Pending>();
  private draining?: Promise<void>;
  private drainError?: Error;
  private handle?: DeploymentWatchHandle;
  private delivered = false;
  private watchdogFired = false;
  private stopping = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private flushTimer?: NodeJS.Timeout;
  private lastFlushAt = 0;
  private resyncing?: Promise<void>;

  constructor(
    readonly scope: WatchScope,
    private readonly deps: StreamDeps,
  ) {
    this.logger = new Logger(`DeploymentStream ${scope.namespace ?? '*'}`);
  }

  get resourceVersion(): string | undefined {
    return this.appliedRv;
  }

  start() {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.handle?.stop();
    this.wake?.();
    await this.loop;
    await this.settle();
    await this.resyncing;
    clearTimeout(this.flushTimer);
    await this.flushPosition();
    this.phase = 'stopped';
  }

  /** Called every second: a stream silent longer than WATCHER_WATCHDOG_MS may be dead without knowing it. */
  checkWatchdog(now = Date.now()) {
    if (this.phase !== 'watching' || !this.handle) return;
    if (now - this.lastContactAt <= this.deps.config.WATCHER_WATCHDOG_MS) return;
    this.logger.warn(`no event or bookmark for ${now - this.lastContactAt} ms; relisting`);
    this.watchdogFired = true;
    this.handle.stop();
  }

  /** The periodic safety net: a full list and diff while the watch keeps running. */
  resync(): Promise<void> {
    if (this.resyncing || this.phase !== 'watching') return this.resyncing ?? Promise.resolve();
    this.resyncing = this.deps.sync
      .syncScope(this.scope, 'periodic')
      .then(() => undefined)
      .catch((e: Error) => this.logger.warn(`periodic relist failed: ${e.message}`))
      .finally(() => (this.resyncing = undefined));
    return this.resyncing;
  }

  private async run() {
    let relist: RelistReason | undefined;
    let attempt = 0;
    try {
      const saved = await this.deps.sync.resumePosition(this.scope);
      if (saved) {
        // Not "applied" until the watch confirms it: a stop before then must not write it back
        // over a position a relist elsewhere has reset meanwhile.
        this.receivedRv = saved;
        this.logger.log(`resuming the watch at resourceVersion ${saved}`);
      } else relist = 'initial';
    } catch (e) {
      this.logger.warn(`cannot read the saved position: ${(e as Error).message}`);
      relist = 'initial';
    }

    while (!this.stopping) {
      try {
        if (relist) {
          this.phase = 'listing';
          await this.settle();
          this.pending.clear();
          this.drainError = undefined;
          const r = await this.deps.sync.syncScope(this.scope, relist);
          this.receivedRv = this.appliedRv = r.resourceVersion;
          this.lastContactAt = this.appliedContactAt = Date.now();
          this.lastError = undefined;
          relist = undefined;
          if (this.stopping) break;
        }
        const end = await this.watchOnce();
        await this.settle();
        if (this.drainError) throw this.drainError;
        if (this.delivered) attempt = 0;
        switch (end.reason) {
          case 'closed':
            // The server's timeout: resume from the position. A stream that closes at once is paced.
            if (!this.delivered) await this.sleep(backoffMs(attempt++));
            break;
          case 'stopped':
            if (this.watchdogFired) relist = 'watchdog';
            this.watchdogFired = false;
            break;
          case 'gone':
            this.logger.log(`resourceVersion ${this.receivedRv} is gone (${end.message}); relisting`);
            relist = 'gone';
            break;
          case 'error':
            throw end.error;
        }
      } catch (e) {
        if (this.stopping) break;
        this.lastError = (e as Error).message;
        this.phase = 'backoff';
        relist = 'reconnect';
        const delay = backoffMs(attempt++);
        this.logger.warn(`stream failed (${this.lastError}); relisting in ${delay} ms`);
        await this.sleep(delay);
      }
    }
  }

  private async watchOnce(): Promise<DeploymentWatchEnd> {
    this.phase = 'watching';
    this.delivered = false;
    const config = this.deps.config;
    const handle = await this.deps.gateway.watchDeployments(
      {
        namespace: this.scope.namespace,
        labelSelector: this.scope.labelSelector,
        resourceVersion: this.receivedRv!,
        // Like client-go: a fresh stream every 5-10 minutes, resumed without a relist.
        timeoutSeconds: randomBetween(300, 600),
        // The watchdog decides first; this only ends a stream the watchdog somehow missed.
        inactivityTimeoutMs: config.WATCHER_WATCHDOG_MS * 2,
      },
      (event) => this.onEvent(event),
    );
    this.handle = handle;
    if (this.stopping) handle.stop();
    const end = await handle.ended;
    this.handle = undefined;
    return end;
  }

  private onEvent(e: DeploymentWatchEvent) {
    this.lastContactAt = Date.now();
    this.delivered = true;
    this.lastError = undefined;
    if (e.type === 'BOOKMARK') {
      if (isWellFormedResourceVersion(e.resourceVersion)) this.receivedRv = e.resourceVersion;
      else this.deps.sync.reportInvalid('watch', `a bookmark of ${this.scope.key}`, e.resourceVersion);
    } else {
      const d = e.object;
      this.deps.metrics.watcherEvents.inc({ type: e.type });
      const rv = d.metadata?.resourceVersion;
      if (!isWellFormedResourceVersion(rv)) {
        // Cannot be ordered against the mirror: skipped; the next relist vouches for the object.
        this.deps.sync.reportInvalid('watch', `a ${e.type} event for ${d.metadata?.namespace}/${d.metadata?.name}`, rv);
        return;
      }
      if (scopeIncludes(this.scope, d.metadata?.namespace)) {
        const row = toMirrorRow(d, e.type === 'DELETED');
        const key = `${row.namespace}/${row.name}`;
        this.pending.set(key, { row, receivedAt: this.pending.get(key)?.receivedAt ?? this.lastContactAt });
      }
      this.receivedRv = rv;
    }
    this.kickDrain();
  }

  private kickDrain() {
    if (this.draining || this.drainError) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.pending.size && !this.drainError) this.kickDrain();
    });
  }

  /** Writes what has arrived, batch by batch, until nothing is left. */
  private async drain() {
    while (!this.drainError) {
      const rv = this.receivedRv;
      const contactAt = this.lastContactAt;
      if (this.pending.size === 0) {
        // A bookmark: the position may not have moved, but the contact time has.
        if (rv && (rv !== this.appliedRv || contactAt > this.appliedContactAt)) this.advance(rv, contactAt);
        return;
      }
      const batch = [...this.pending.values()];
      this.pending = new Map();
      try {
        await this.deps.deployments.upsertMany(batch.map((b) => b.row));
      } catch (e) {
        // Events in hand may now be lost: only a relist (after backoff) can vouch for the mirror again.
        this.drainError = e as Error;
        this.handle?.stop();
        return;
      }
      const now = Date.now();
      for (const b of batch) this.deps.metrics.watcherEventLagSeconds.observe((now - b.receivedAt) / 1000);
      await this.deps.sync.afterMirrorWrite(batch.map((b) => ({ namespace: b.row.namespace, name: b.row.name })));
      if (rv) this.advance(rv, contactAt);
    }
  }

  private advance(rv: string, contactAt: number) {
    this.appliedRv = rv;
    this.appliedContactAt = contactAt;
    if (this.flushTimer) return;
    const wait = Math.max(0, POSITION_FLUSH_MS - (Date.now() - this.lastFlushAt));
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flushPosition();
    }, wait);
  }

  private async flushPosition() {
    const rv = this.appliedRv;
    if (!rv) return;
    this.lastFlushAt = Date.now();
    try {
      await this.deps.state.recordPosition(this.scope.key, rv, new Date(this.appliedContactAt));
    } catch (e) {
      this.logger.warn(`cannot save the position ${rv}: ${(e as Error).message}`);
    }
  }

  /** Waits for in-flight writes. */
  private async settle() {
    while (this.draining) await this.draining;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}
