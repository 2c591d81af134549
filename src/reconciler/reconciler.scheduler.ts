import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { AppConfig } from '../config/app-config.js';
import { settlesWithin, ShutdownSignal } from '../common/shutdown.js';
import { ReconcilerService } from './reconciler.service.js';

/** Starts passes on RECONCILE_CRON (manual passes come through ReconcileControlController). */
@Injectable()
export class ReconcilerScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReconcilerScheduler.name);
  private running?: Promise<unknown>;

  constructor(
    private readonly config: AppConfig,
    private readonly reconciler: ReconcilerService,
    private readonly registry: SchedulerRegistry,
    private readonly shutdown: ShutdownSignal,
  ) {}

  onApplicationBootstrap() {
    // Once mode (a CronJob) runs its single pass from main and needs no schedule.
    if (this.config.RECONCILE_ONCE) return;
    let job: CronJob;
    try {
      job = CronJob.from({
        cronTime: this.config.RECONCILE_CRON,
        onTick: () => {
          this.running ??= this.reconciler.runScheduled().finally(() => (this.running = undefined));
        },
        start: false,
      });
    } catch (e) {
      throw new Error(
        `RECONCILE_CRON "${this.config.RECONCILE_CRON}" is not a cron expression: ${(e as Error).message}`,
        { cause: e },
      );
    }
    this.registry.addCronJob('reconcile', job);
    job.start();
    this.logger.log(`reconcile passes on "${this.config.RECONCILE_CRON}"`);
  }

  /** The pass itself is bounded by ReconcilerService's shutdown (it finishes or is recorded abandoned). */
  async onApplicationShutdown() {
    await settlesWithin(this.running ?? Promise.resolve(), this.shutdown.remainingWorkMs());
  }
}
