import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthService } from './health.service.js';
import { HealthServer } from './health.server.js';
import { ReadinessRegistry } from './readiness.registry.js';

@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  providers: [HealthService, HealthServer, ReadinessRegistry],
  exports: [HealthService, HealthServer, ReadinessRegistry],
})
export class HealthModule {}
