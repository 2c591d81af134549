import { DynamicModule, Module, Type } from '@nestjs/common';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import type { Role } from './config/roles.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ApiModule } from './api.module.js';
import { WorkerModule } from './worker/worker.module.js';
import { WatcherModule } from './watcher/watcher.module.js';
import { ReconcilerModule } from './reconciler/reconciler.module.js';
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
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        DatabaseModule,
        HealthModule,
        ...config.roles.map((r) => ROLE_MODULES[r]),
      ],
    };
  }
}
