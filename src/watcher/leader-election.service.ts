import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AppConfig } from '../config/app-config.js';
import { settlesWithin, ShutdownSignal } from '../common/shutdown.js';
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
 * new leader starts cannot move the mirror backwards. A leader that shuts down stops its
 * streams, releases the lock and announces it (NOTIFY), so a standby takes over at once
 * rather than at its next poll.
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
  /** Why to poll again once the poll in flight ends (a release announced during it). */
  private pollAgain?: string;
  private transition: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: AppConfig,
    private readonly lock: LeaderLockRepository,
    private readonly metrics: MetricsService,
    private readonly shutdown: ShutdownSignal,
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  campaign(lockName: string, callbacks: LeaderCallbacks) {
    this.lockName = lockName;
    this.callbacks = callbacks;
    this.metrics.watcherLeader.set(0);
    this.lock.listenForReleases((name) => {
      if (name === this.lockName && !this.leader) void this.poll('the leader released the lock');
    });
    this.timer = setInterval(() => void this.poll(), this.config.LEADER_POLL_MS);
    void this.poll('start');
  }

  /** One round: try to take the lock, or confirm we still hold it. */
  poll(cause = 'timer'): Promise<void> {
    if (this.polling) {
      // A release announced while a poll runs must not be lost in it.
      if (cause !== 'timer') this.pollAgain = cause;
      return this.polling;
    }
    this.polling = this.pollOnce(cause).finally(() => {
      this.polling = undefined;
      const again = this.pollAgain;
      this.pollAgain = undefined;
      if (again) void this.poll(again);
    });
    return this.polling;
  }

  /**
   * Stops the leader's work (bounded by the shutdown's work deadline: its writes are
   * resourceVersion-guarded, so one still in flight cannot undo the next leader's), then
   * releases the lock and announces it.
   */
  async beforeApplicationShutdown() {
    clearInterval(this.timer);
    this.timer = undefined;
    this.pollAgain = undefined;
    this.shutdown.begin();
    await settlesWithin(this.polling ?? Promise.resolve(), this.shutdown.remainingWorkMs());
    const wasLeader = this.leader;
    if (!(await settlesWithin(this.setLeader(false, 'shutting down'), this.shutdown.remainingWorkMs())))
      this.logger.warn('the streams did not stop by the shutdown deadline; releasing the lock anyway');
    if (wasLeader && this.lockName) {
      await this.lock.release(this.lockName);
      this.logger.log(`${this.identity} released the leader lock`);
    } else {
      await this.lock.close();
    }
  }

  private async pollOnce(cause: string) {
    if (!this.lockName || !this.timer) return;
    this.logger.debug(`leader poll (${cause})`);
    try {
      if (!this.leader) {
        if (await this.lock.tryAcquire(this.lockName))
          await this.setLeader(true, cause === 'timer' ? 'acquired the lock' : `acquired the lock: ${cause}`);
        else this.logger.debug('standing by: another watcher holds the lock');
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
