import 'reflect-metadata';
import { DynamicModule, INestApplicationContext, INestMicroservice, Logger, LoggerService, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AsyncMicroserviceOptions, Server } from '@nestjs/microservices';
import type { DestinationStream, Logger as Pino } from 'pino';
import { AppModule, servesHttpApi, transportsFor } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { createNestLogger, createRootLogger } from './common/logging.js';
import { HealthServer } from './health/health.server.js';
import { HandlerErrorFilter } from './messaging/handler-error.filter.js';
import { exitOnFatalErrors } from './process-guards.js';
import { assertSessionPooling } from './database/session-pooling.check.js';
import { ShutdownSignal } from './common/shutdown.js';
import { shutdownOnSignals } from './graceful-shutdown.js';

export interface Running {
  app: INestApplicationContext;
  /** Where /healthz, /readyz and /metrics answer: HEALTH_PORT, for every role (the API port has no /metrics). */
  healthUrl: string;
  /** The API's base URL, when this process serves it. */
  apiUrl?: string;
  /** Closes the app (once; later calls wait for the same close). */
  close(): Promise<void>;
  /**
   * What SIGTERM runs: readiness fails at once; the API keeps serving for
   * SHUTDOWN_READINESS_DELAY_MS (load balancers see /readyz fail and stop sending), then
   * refuses new connections and drains those in flight; then close(). Each role bounds its
   * own work by the shutdown's deadline (see ShutdownSignal).
   */
  shutdown(): Promise<void>;
}

export interface BootstrapOptions {
  /**
   * Exit the process (status 1, after closing the app) on an uncaught exception or unhandled
   * rejection. On by default for the entry points; tests that boot apps in-process turn it off.
   */
  exitOnFatalErrors?: boolean;
  /** Where log lines go instead of stdout (tests read them). */
  logDestination?: DestinationStream;
}

const shutdownLogger = new Logger('Shutdown');

/** Boots the roles in config.roles: an HTTP app when the API is among them, otherwise a standalone context. */
export async function bootstrap(config: AppConfig, options: BootstrapOptions = {}): Promise<Running> {
  let app: INestApplicationContext | undefined;
  const ownsProcess = options.exitOnFatalErrors !== false;
  const log = createRootLogger(config, options.logDestination);
  const removeGuards = ownsProcess
    ? exitOnFatalErrors(async () => app?.close(), { log: (line) => log.fatal(line) })
    : () => undefined;
  try {
    // Before anything starts: session locks behind a transaction pooler would not be locks.
    await assertSessionPooling(config.DATABASE_URL, config.roles);
    const running = await start(config, log);
    app = running.app;
    const started = running.app;
    const signal = started.get(ShutdownSignal);
    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        removeGuards();
        removeSignals();
        signal.begin();
        await running.close();
      })());
    const shutdown = async () => {
      signal.begin();
      if (running.drain) {
        await sleep(Math.min(config.SHUTDOWN_READINESS_DELAY_MS, signal.remainingWorkMs()));
        shutdownLogger.log('readiness failed; closing the API listener and draining requests in flight');
        if (!(await running.drain(signal.remainingWorkMs())))
          shutdownLogger.warn('requests still in flight at the shutdown deadline were cut');
      }
      await close();
    };
    const removeSignals = ownsProcess
      ? shutdownOnSignals(shutdown, {
          timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
          log: (line) => shutdownLogger.log(line),
        })
      : () => undefined;
    return { app: started, healthUrl: running.healthUrl, apiUrl: running.apiUrl, close, shutdown };
  } catch (e) {
    removeGuards();
    throw e;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What start() hands bootstrap: the API process can also drain its HTTP connections. */
type Started = Omit<Running, 'shutdown'> & { drain?: (timeoutMs: number) => Promise<boolean> };

/**
 * HTTP roles: an HTTP app, with each transport connected (a hybrid app; api.bootstrap.ts,
 * loaded only here). Others: a microservice app when a role takes messages, else a
 * standalone context; both serve only health and metrics on HEALTH_PORT. Handlers get no
 * message before every module has initialised: the lifecycle hooks run before any transport starts.
 */
async function start(config: AppConfig, log: Pino): Promise<Started> {
  const logger = createNestLogger(log);
  const root = await AppModule.forRoles(config);
  const transports = await transportsFor(config);
  if (!servesHttpApi(config.roles)) {
    const microservice = transports.length ? await createMicroservice(root, logger, transports) : undefined;
    const app = microservice ?? (await NestFactory.createApplicationContext(root, { logger, abortOnError: false }));
    // A microservice app runs the lifecycle hooks in listen(), then starts its transport.
    // (Its init() would run them twice.) A standalone context is initialised already.
    await microservice?.listen();
    const port = await app.get(HealthServer).listen(config.HEALTH_PORT);
    return { app, healthUrl: `http://127.0.0.1:${port}`, close: () => app.close() };
  }

  const { startApi } = await import('./api.bootstrap.js');
  return startApi(root, transports, config, log, logger);
}

/** A microservice app (no HTTP) on the one transport of a process without the API. */
async function createMicroservice(
  root: DynamicModule,
  logger: LoggerService,
  transports: Type<Server>[],
): Promise<INestMicroservice> {
  if (transports.length > 1) throw new Error('a process without the API runs at most one transport');
  const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(root, {
    logger,
    abortOnError: false,
    inject: transports,
    useFactory: (strategy: Server) => ({ strategy }),
  });
  return app.useGlobalFilters(new HandlerErrorFilter());
}
