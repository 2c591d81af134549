import 'reflect-metadata';
import {
  DynamicModule,
  INestApplicationContext,
  INestMicroservice,
  Logger,
  LoggerService,
  Type,
  ValidationPipe,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestMicroservice, type AsyncMicroserviceOptions, type Server } from '@nestjs/microservices';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { useContainer } from 'class-validator';
import type { NextFunction, Request, Response } from 'express';
import type { DestinationStream, Logger as Pino } from 'pino';
import helmet from 'helmet';
import { AppModule, servesHttpApi, transportsFor } from './app.module.js';
import { trustProxySetting, type AppConfig } from './config/app-config.js';
import { AuditService } from './audit/audit.service.js';
import { HttpExceptionFilter, toErrorBody } from './http/http-exception.filter.js';
import { createNestLogger, createRootLogger } from './common/logging.js';
import { httpLogging } from './common/logging-http.js';
import { RawInputPipe } from './http/raw-input.pipe.js';
import { methodNotAllowed, requireJsonBody } from './http/http-edges.js';
import { HealthServer } from './health/health.server.js';
import { HandlerErrorFilter } from './messaging/handler-error.filter.js';
import { buildOpenApi } from './openapi.js';
import { VALIDATOR_PROVIDERS } from './requests/requests-api.module.js';
import { exitOnFatalErrors } from './process-guards.js';
import { assertSessionPooling } from './database/session-pooling.check.js';
import { httpMetricsMiddleware } from './http/http-metrics.middleware.js';
import { MetricsService } from './metrics/metrics.service.js';
import { ShutdownSignal } from './common/shutdown.js';
import { drainHttpServer, shutdownOnSignals } from './graceful-shutdown.js';

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
      if (running.apiUrl) {
        const app = started as NestExpressApplication;
        await sleep(Math.min(config.SHUTDOWN_READINESS_DELAY_MS, signal.remainingWorkMs()));
        shutdownLogger.log('readiness failed; closing the API listener and draining requests in flight');
        if (!(await drainHttpServer(app.getHttpServer(), signal.remainingWorkMs())))
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
    return { ...running, close, shutdown };
  } catch (e) {
    removeGuards();
    throw e;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * HTTP roles: an HTTP app, with each transport connected (a hybrid app). Others: a
 * microservice app when a role takes messages, else a standalone context; both serve only
 * health and metrics on HEALTH_PORT. Handlers get no message before every module has
 * initialised: the lifecycle hooks run before any transport starts.
 */
async function start(config: AppConfig, log: Pino): Promise<Omit<Running, 'shutdown'>> {
  const logger = createNestLogger(log);
  const root = AppModule.forRoles(config);
  const transports = transportsFor(config);
  if (!servesHttpApi(config.roles)) {
    const microservice = transports.length ? await createMicroservice(root, logger, transports) : undefined;
    const app = microservice ?? (await NestFactory.createApplicationContext(root, { logger, abortOnError: false }));
    // A microservice app runs the lifecycle hooks in listen(), then starts its transport.
    // (Its init() would run them twice.) A standalone context is initialised already.
    await microservice?.listen();
    const port = await app.get(HealthServer).listen(config.HEALTH_PORT);
    return { app, healthUrl: `http://127.0.0.1:${port}`, close: () => app.close() };
  }

  const app = await NestFactory.create<NestExpressApplication>(root, {
    logger,
    bodyParser: false,
    abortOnError: false,
  });
  hardenEdges(app, config);
  app.use(httpMetricsMiddleware(app.get(MetricsService)));
  const audit = app.get(AuditService);
  // Request id and access line first, so bodies the parser refuses are logged too.
  const requestLogging = httpLogging(log);
  app.use(requestLogging.assignRequestId, requestLogging.accessLog);
  // Draining: answers say the connection ends, so clients open new ones (to another replica).
  const draining = app.get(ShutdownSignal);
  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (draining.requested) res.setHeader('Connection', 'close');
    next();
  });
  // 405 with Allow for methods a known path lacks; 415 for bodies that are not JSON.
  app.use(
    methodNotAllowed(() => buildOpenApi(app)),
    requireJsonBody,
  );
  app.useBodyParser('json', { limit: config.MAX_BODY_BYTES });
  // Body-parser failures (bad JSON, too large), 405 and 415 happen before Nest's filters can see them.
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    const body = toErrorBody(err);
    void audit
      .recordCall(req, body.statusCode, { errorCode: body.code, action: 'request.bodyRejected' })
      .finally(() => res.status(body.statusCode).json(body));
  });
  app.use(requestLogging.bindContext);
  app.useGlobalPipes(
    new RawInputPipe(),
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, stopAtFirstError: false }),
  );
  app.useGlobalFilters(new HttpExceptionFilter(audit));
  // Validator constraints that need config are Nest providers; class-validator builds the rest itself.
  const constraints = new Map<unknown, unknown>(VALIDATOR_PROVIDERS.map((c) => [c, app.get(c, { strict: false })]));
  useContainer({ get: (cls: unknown) => constraints.get(cls) }, { fallback: true });
  for (const transport of transports) connectTransport(app, transport);
  SwaggerModule.setup('docs', app, () => buildOpenApi(app), { jsonDocumentUrl: 'docs-json' });
  await app.init();
  await app.startAllMicroservices();
  await app.listen(config.HTTP_PORT, '0.0.0.0');
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.HTTP_PORT;
  const url = `http://127.0.0.1:${port}`;
  // /metrics stays off the public API port: the API serves it on HEALTH_PORT like every role.
  const healthPort = await app.get(HealthServer).listen(config.HEALTH_PORT);
  return { app, healthUrl: `http://127.0.0.1:${healthPort}`, apiUrl: url, close: () => app.close() };
}

/**
 * Source addresses (TRUST_PROXY), security headers (helmet), CORS (off unless CORS_ORIGINS).
 * Registered before the body parser, so refused bodies get the headers too.
 */
function hardenEdges(app: NestExpressApplication, config: AppConfig) {
  app.set('trust proxy', trustProxySetting(config.TRUST_PROXY));
  app.use(
    helmet({
      contentSecurityPolicy: {
        // Swagger UI loads its scripts and styles from /docs itself. The API may be served over
        // plain HTTP behind no TLS proxy, where upgrading them to https would break it.
        directives: { upgradeInsecureRequests: null },
      },
    }),
  );
  if (config.CORS_ORIGINS.length)
    app.enableCors({
      origin: config.CORS_ORIGINS,
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'],
      exposedHeaders: ['Retry-After', 'Idempotent-Replayed', 'X-Request-Id'],
      maxAge: 600,
    });
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

/**
 * Connects a transport to the HTTP app. Its listeners are registered when it starts, so
 * that HandlerErrorFilter applies (a connected microservice's global filters are read
 * then); the HTTP app runs the lifecycle hooks, so the microservice must not run them again.
 */
function connectTransport(app: NestExpressApplication, transport: Type<Server>) {
  const ms = app.connectMicroservice({ strategy: app.get(transport) }, { deferInitialization: true });
  ms.useGlobalFilters(new HandlerErrorFilter());
  if (ms instanceof NestMicroservice) ms.setIsInitHookCalled(true);
}
