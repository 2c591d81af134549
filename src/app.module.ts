import { DynamicModule, INestApplicationContext, Module, Provider, Type } from '@nestjs/common';
import type { Server } from '@nestjs/microservices';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { natsDownState, type Role } from './config/roles.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { registerNatsProbe } from './health/nats-readiness.js';
import { ReadinessRegistry } from './health/readiness.registry.js';
import { MetricsModule } from './metrics/metrics.module.js';

/**
 * The one place that knows roles: ROLE picks root modules from this map. Everything a
 * role needs beyond the common modules comes in through its own module's imports.
 * Loaders, not modules: a process evaluates only its own roles' code, so a worker never
 * loads the API's controllers, DTOs, Swagger or Fastify (see "Memory per role" in the README).
 * Loaded one at a time: Jest's ESM loader (tests boot apps in-process) fails concurrent
 * imports that share modules ("module not been linked").
 */
export const ROLE_MODULES: Record<Role, () => Promise<Type>> = {
  api: async () => (await import('./api.module.js')).ApiModule,
  worker: async () => (await import('./worker/worker.module.js')).WorkerModule,
  watcher: async () => (await import('./watcher/watcher.module.js')).WatcherModule,
  reconciler: async () => (await import('./reconciler/reconciler.module.js')).ReconcilerModule,
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
    const { ReconcilerService } = await import('./reconciler/reconciler.service.js');
    const { ReconcileStatus } = await import('./reconciler/reconcile-run.entity.js');
    const run = await app.get(ReconcilerService).runOnce();
    return {
      line: `reconcile run ${run.id} ${run.status}${run.error ? `: ${run.error}` : ''}`,
      exitCode: run.status === ReconcileStatus.SUCCEEDED ? 0 : 1,
    };
  };
}

/** The one `nats` readiness probe, meaning what NATS down means to these roles together. */
async function natsReadiness(roles: Role[]): Promise<{ imports: Type[]; providers: Provider[] }> {
  const whenDown = natsDownState(roles);
  if (!whenDown) return { imports: [], providers: [] };
  const { MessagingModule } = await import('./messaging/messaging.module.js');
  const { NatsClient } = await import('./messaging/nats-client.js');
  const provider: Provider = {
    provide: 'NATS_READINESS_PROBE',
    inject: [ReadinessRegistry, NatsClient],
    useFactory: (registry: ReadinessRegistry, nats: InstanceType<typeof NatsClient>) =>
      registerNatsProbe(registry, nats, whenDown),
  };
  return { imports: [MessagingModule], providers: [provider] };
}

/**
 * The Nest transports each role's handlers listen on: the worker's @EventPattern (request
 * consumer) and the reconciler's @MessagePattern (manual passes) are served by JetStream.
 */
const jetStream = async () => (await import('./messaging/jetstream.server.js')).JetStreamServer;
const ROLE_TRANSPORTS: Record<Role, (() => Promise<Type<Server>>)[]> = {
  api: [],
  worker: [jetStream],
  watcher: [],
  reconciler: [jetStream],
};

/** The transport strategies the process starts, each once. A once-mode reconcile runs its pass and exits: none. */
export async function transportsFor(config: AppConfig): Promise<Type<Server>[]> {
  if (config.RECONCILE_ONCE) return [];
  const transports = new Set<Type<Server>>();
  for (const load of new Set(config.roles.flatMap((r) => ROLE_TRANSPORTS[r]))) transports.add(await load());
  return [...transports];
}

@Module({})
export class AppModule {
  static async forRoles(config: AppConfig): Promise<DynamicModule> {
    const nats = await natsReadiness(config.roles);
    const roleModules: Type[] = [];
    for (const role of config.roles) roleModules.push(await ROLE_MODULES[role]());
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        DatabaseModule,
        HealthModule,
        ...nats.imports,
        ...roleModules,
      ],
      providers: nats.providers,
    };
  }
}
