import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DeploymentsRepository } from '../deployments/deployments.repository.js';
import { MirrorSyncService } from '../deployments/mirror-sync.service.js';
import { leaderLockName } from './watch-scope.js';
import { WatcherStateRepository } from './watcher-state.repository.js';
import type { ProbeResult } from '../health/readiness.registry.js';
import { KubernetesGateway } from '../kubernetes/kubernetes.gateway.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DeploymentStream } from './deployment-stream.js';
import { LeaderElection } from './leader-election.service.js';

const TICK_MS = 1000;

/**
 * The watcher role: campaigns for leadership and, while leader, runs one list+watch
 * stream per scope, a watchdog over them and a periodic full relist.
 */
@Injectable()
export class DeploymentWatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeploymentWatcher.name);
  private streams: DeploymentStream[] = [];
  private tick?: NodeJS.Timeout;
  private resync?: NodeJS.Timeout;
  private stopping: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: AppConfig,
    private readonly gateway: KubernetesGateway,
    private readonly sync: MirrorSyncService,
    private readonly deployments: DeploymentsRepository,
    private readonly state: WatcherStateRepository,
    private readonly metrics: MetricsService,
    private readonly election: LeaderElection,
  ) {}

  onApplicationBootstrap() {
    this.metrics.watcherLastEventAge.set(0);
    this.election.campaign(leaderLockName(this.sync.scopes), {
      elected: () => this.start(),
      deposed: () => this.stop(),
    });
  }

  async beforeApplicationShutdown() {
    await this.stop();
  }

  readiness(): ProbeResult {
    const data = {
      leader: this.election.isLeader,
      identity: this.election.identity,
      streams: this.streams.map((s) => ({
        scope: s.scope.key,
        phase: s.phase,
        resourceVersion: s.resourceVersion ?? null,
        lastContactAgoMs: Date.now() - s.lastContactAt,
        ...(s.lastError ? { lastError: s.lastError } : {}),
      })),
    };
    // A standby is ready (it is waiting on purpose); a leader whose streams fell silent is degraded.
    const silent = this.streams.some((s) => Date.now() - s.lastContactAt > this.config.WATCHER_WATCHDOG_MS * 2);
    return { state: silent ? 'degraded' : 'up', data };
  }

  private async start() {
    const scopes = this.sync.scopes;
    await this.state
      .recordLeader(
        scopes.map((s) => s.key),
        this.election.identity,
      )
      .catch((e: Error) => this.logger.warn(`cannot record leadership: ${e.message}`));
    const deps = {
      config: this.config,
      gateway: this.gateway,
      sync: this.sync,
      deployments: this.deployments,
      state: this.state,
      metrics: this.metrics,
    };
    this.streams = scopes.map((scope) => new DeploymentStream(scope, deps));
    for (const s of this.streams) s.start();
    this.tick = setInterval(() => this.onTick(), TICK_MS);
    this.resync = setInterval(() => this.streams.forEach((s) => void s.resync()), this.config.WATCHER_RESYNC_MS);
    this.logger.log(`watching ${scopes.map((s) => s.namespace ?? `namespaces ${s.patterns?.join(',')}`).join(', ')}`);
  }

  /** Idempotent: a second caller (deposed while shutting down) waits for the same stop. */
  private stop(): Promise<void> {
    clearInterval(this.tick);
    clearInterval(this.resync);
    this.tick = this.resync = undefined;
    const streams = this.streams;
    this.streams = [];
    if (streams.length) {
      this.stopping = Promise.all(streams.map((s) => s.stop())).then(() => {
        this.metrics.watcherLastEventAge.set(0);
      });
    }
    return this.stopping;
  }

  private onTick() {
    const now = Date.now();
    let oldest = now;
    for (const s of this.streams) {
      s.checkWatchdog(now);
      oldest = Math.min(oldest, s.lastContactAt);
    }
    this.metrics.watcherLastEventAge.set((now - oldest) / 1000);
  }
}
