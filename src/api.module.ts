import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuditModule } from './audit/audit.module.js';
import { DeploymentsApiModule } from './deployments/deployments-api.module.js';
import { HealthController } from './health/health.controller.js';
import { ApiThrottlerGuard } from './http/rate-limit.guard.js';
import { RateLimitModule } from './http/rate-limit.module.js';
import { ReconcileAdminModule } from './reconciler/reconcile-admin.module.js';
import { RequestsApiModule } from './requests/requests-api.module.js';

/** The REST API role: intake, request reads, health and metrics over HTTP. */
@Module({
  imports: [RequestsApiModule, ReconcileAdminModule, DeploymentsApiModule, AuditModule, RateLimitModule],
  controllers: [HealthController],
  providers: [
    // Guard 2 of 3: after AuthenticationGuard (sets req.principal), before AuthorizationGuard.
    { provide: APP_GUARD, useClass: ApiThrottlerGuard },
  ],
})
export class ApiModule {}
