import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { LeaderLockRepository } from './leader-lock.repository.js';

export interface LeaderCallbacks {
  elected(): Promise<void> | void;
  /** Must stop all leader work before it resolves. */
  deposed(): Promise<void> | void;
}

/**
 * Exactly one active watcher: every LEADER_POLL_MS a standby tries the advisory lock and
 * the leader checks it still holds it. Losing the session means stepping down at once;
 * a leader's writes are resourceVersion-guarded, so one that is still in flight while a
 * new leader starts cannot move the mirror backwards.
 */
@Injectable()
export class LeaderElection implements BeforeApplicationShutdown {
  private readonly logger = new Logger(LeaderElection.name);
  readonly identity = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  private leader = false;
  private lockName?: string;
  private callbacks?: LeaderCallbacks;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private transition: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: AppConfig,
    private readonly lock: LeaderLockRepository,
    private readonly metrics: MetricsService,
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  campaign(lockName: string, callbacks: LeaderCallbacks) {
    this.lockName = lockName;
    this.callbacks = callbacks;
    this.metrics.watcherLeader.set(0);
    this.timer = setInterval(() => void this.poll(), this.config.LEADER_POLL_MS);
    void this.poll();
  }

  /** One round: try to take the lock, or confirm we still hold it. */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  async beforeApplicationShutdown() {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    await this.setLeader(false, 'shutting down');
    await this.lock.close();
  }

  private async pollOnce() {
    if (!this.lockName || !this.timer) return;
    try {
      if (!this.leader) {
        if (await this.lock.tryAcquire(this.lockName)) await this.setLeader(true, 'acquired the lock');
      } else if (!(await this.lock.holds(this.lockName))) {
        await this.setLeader(false, 'no longer holds the lock');
        await this.lock.close();
      }
    } catch (e) {
      if (this.leader) await this.setLeader(false, `lost the lock session: ${(e as Error).message}`);
      else this.logger.warn(`leader poll failed: ${(e as Error).message}`);
      await this.lock.close();
    }
  }

  private setLeader(leader: boolean, why: string): Promise<void> {
    this.transition = this.transition.then(async () => {
      if (this.leader === leader) return;
      this.leader = leader;
      this.metrics.watcherLeader.set(leader ? 1 : 0);
      this.logger.log(`${this.identity} ${leader ? 'is now the leader' : 'stepped down'} (${why})`);
      try {
        await (leader ? this.callbacks?.elected() : this.callbacks?.deposed());
      } catch (e) {
        this.logger.error(`leader ${leader ? 'start' : 'stop'} failed: ${(e as Error).message}`);
      }
    });
    return this.transition;
  }
}
