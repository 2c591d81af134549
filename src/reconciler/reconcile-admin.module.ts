import { Module } from '@nestjs/common';
import { MessagingModule } from '../messaging/messaging.module.js';
import { ReconcileAdminController } from './reconcile-admin.controller.js';
import { ReconcileAdminService } from './reconcile-admin.service.js';
import { ReconcileRunsDataModule } from './reconcile-runs-data.module.js';

/** The admin endpoints for reconciliation, served by the api role. */
@Module({
  imports: [MessagingModule, ReconcileRunsDataModule],
  controllers: [ReconcileAdminController],
  providers: [ReconcileAdminService],
})
export class ReconcileAdminModule {}
