import { DynamicModule, INestApplicationContext, Module, Provider, Type } from '@nestjs/common';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { natsDownState, type Role } from './config/roles.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { registerNatsProbe } from './health/nats-readiness.js';
import { ReadinessRegistry } from './health/readiness.registry.js';
import { MessagingModule } from './messaging/messaging.module.js';
import { NatsClient } from './messaging/nats-client.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ApiModule } from './api.module.js';
import { WorkerModule } from './worker/worker.module.js';
import { WatcherModule } from './watcher/watcher.module.js';
import { ReconcilerModule } from './reconciler/reconciler.module.js';
import { ReconcileStatus } from './reconciler/reconcile-run.entity.js';
import { ReconcilerService } from './reconciler/reconciler.service.js';
import type { Server } from '@nestjs/microservices';
import { JetStreamServer } from './messaging/jetstream.server.js';

/**
 * The one place that knows roles: ROLE picks root modules from this map. Everything a
 * role needs beyond the common modules comes in through its own module's imports.
 */
export const ROLE_MODULES: Record<Role, Type> = {
  api: ApiModule,
  worker: WorkerModule,
  watcher: WatcherModule,
  reconciler: ReconcilerModule,
};

/** Whether the process serves the REST API (an HTTP app) or is a standalone context with a health port. */
export const servesHttpApi = (roles: Role[]) => roles.includes('api');

/** A process that does one thing and exits: its outcome line and exit status. */
export interface OneShotTask {
  (app: INestApplicationContext): Promise<{ line: string; exitCode: number }>;
}

/**
 * The roles that run once instead of serving: RECONCILE_ONCE=true (ROLE=reconciler, the
 * Kubernetes CronJob form) runs one pass, then exits 0 or 1 with the outcome.
 */
export function oneShotTask(config: AppConfig): OneShotTask | undefined {
  if (!config.RECONCILE_ONCE) return undefined;
  return async (app) => {
    const run = await app.get(ReconcilerService).runOnce();
    return {
      line: `reconcile run ${run.id} ${run.status}${run.error ? `: ${run.error}` : ''}`,
      exitCode: run.status === ReconcileStatus.SUCCEEDED ? 0 : 1,
    };
  };
}

/** The one `nats` readiness probe, meaning what NATS down means to these roles together. */
function natsReadiness(roles: Role[]): { imports: Type[]; providers: Provider[] } {
  const whenDown = natsDownState(roles);
  if (!whenDown) return { imports: [], providers: [] };
  const provider: Provider = {
    provide: 'NATS_READINESS_PROBE',
    inject: [ReadinessRegistry, NatsClient],
    useFactory: (registry: ReadinessRegistry, nats: NatsClient) => registerNatsProbe(registry, nats, whenDown),
  };
  return { imports: [MessagingModule], providers: [provider] };
}

/**
 * The Nest transports each role's handlers listen on: the worker's @EventPattern (request
 * consumer) and the reconciler's @MessagePattern (manual passes) are served by JetStream.
 */
const ROLE_TRANSPORTS: Record<Role, Type<Server>[]> = {
  api: [],
  worker: [JetStreamServer],
  watcher: [],
  reconciler: [JetStreamServer],
};

/** The transport strategies the process starts, each once. A once-mode reconcile runs its pass and exits: none. */
export function transportsFor(config: AppConfig): Type<Server>[] {
  if (config.RECONCILE_ONCE) return [];
  return [...new Set(config.roles.flatMap((r) => ROLE_TRANSPORTS[r]))];
}

@Module({})
export class AppModule {
  static forRoles(config: AppConfig): DynamicModule {
    const nats = natsReadiness(config.roles);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        DatabaseModule,
        HealthModule,
        ...nats.imports,
        ...config.roles.map((r) => ROLE_MODULES[r]),
      ],
      providers: nats.providers,
    };
  }
}
