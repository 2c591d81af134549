import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { AuthenticationGuard } from './auth/authentication.guard.js';
import { AuthorizationGuard } from './auth/authorization.guard.js';
import { DeploymentsApiModule } from './deployments/deployments-api.module.js';
import { EventsApiModule } from './events/events-api.module.js';
import { HealthController } from './health/health.controller.js';
import { ApiThrottlerGuard } from './http/rate-limit.guard.js';
import { RateLimitModule } from './http/rate-limit.module.js';
import { ReconcileAdminModule } from './reconciler/reconcile-admin.module.js';
import { RequestsApiModule } from './requests/requests-api.module.js';

/** The REST API role: intake, request reads, API keys, the audit log, health over HTTP (metrics are on HEALTH_PORT). */
@Module({
  imports: [
    AuthModule,
    RequestsApiModule,
    ReconcileAdminModule,
    DeploymentsApiModule,
    EventsApiModule,
    AuditModule,
    RateLimitModule,
  ],
  controllers: [HealthController],
  providers: [
    // Global guards run in this order; @Public routes pass all of them.
    // 1. Who is calling: sets req.principal from the bearer key, refuses nothing.
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    // 2. The rate limit: after 1, so it counts per key (or per address without one), and before 3,
    //    so floods of bad keys are limited too.
    { provide: APP_GUARD, useClass: ApiThrottlerGuard },
    // 3. May they: 401 without a principal, 403 when the key's role is below the route's @Access.
    { provide: APP_GUARD, useClass: AuthorizationGuard },
  ],
})
export class ApiModule {}
