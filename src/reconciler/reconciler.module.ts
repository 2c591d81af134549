import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { MirrorModule } from '../deployments/mirror.module.js';
import { RequestIntakeModule } from '../requests/request-intake.module.js';
import { ReconcileRunsDataModule } from './reconcile-runs-data.module.js';
import { ReconcileControlController } from './reconcile-control.controller.js';
import { ReconcilerScheduler } from './reconciler.scheduler.js';
import { ReconcilerService } from './reconciler.service.js';

/** The reconciler role: scheduled (or once) passes, and manual passes asked for over NATS. */
@Module({
  imports: [ScheduleModule.forRoot(), RequestIntakeModule, MirrorModule, ReconcileRunsDataModule],
  controllers: [ReconcileControlController],
  providers: [ReconcilerService, ReconcilerScheduler],
  exports: [ReconcilerService],
})
export class ReconcilerModule {}
