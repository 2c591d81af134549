import { Module } from '@nestjs/common';
import { DeploymentsApiModule } from './deployments/deployments-api.module.js';
import { HealthController } from './health/health.controller.js';
import { ReconcileAdminModule } from './reconciler/reconcile-admin.module.js';
import { RequestsApiModule } from './requests/requests-api.module.js';

/** The REST API role: intake, request reads, health and metrics over HTTP. */
@Module({
  imports: [RequestsApiModule, ReconcileAdminModule, DeploymentsApiModule],
  controllers: [HealthController],
})
export class ApiModule {}
