import {
  type DynamicModule,
  type INestApplicationContext,
  type LoggerService,
  type Type,
  ValidationPipe,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestMicroservice, type Server } from '@nestjs/microservices';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { useContainer } from 'class-validator';
import type { NextFunction, Request, Response } from 'express';
import type { Logger as Pino } from 'pino';
import helmet from 'helmet';
import { trustProxySetting, type AppConfig } from './config/app-config.js';
import { AuditService } from './audit/audit.service.js';
import { HttpExceptionFilter, toErrorBody } from './http/http-exception.filter.js';
import { httpLogging } from './common/logging-http.js';
import { RawInputPipe } from './http/raw-input.pipe.js';
import { methodNotAllowed, requireJsonBody } from './http/http-edges.js';
import { HealthServer } from './health/health.server.js';
import { HandlerErrorFilter } from './messaging/handler-error.filter.js';
import { buildOpenApi } from './openapi.js';
import { VALIDATOR_PROVIDERS } from './requests/requests-api.module.js';
import { httpMetricsMiddleware } from './http/http-metrics.middleware.js';
import { MetricsService } from './metrics/metrics.service.js';
import { ShutdownSignal } from './common/shutdown.js';
import { drainHttpServer } from './graceful-shutdown.js';

// The API's HTTP edge: Express, helmet, the validation pipes and Swagger. bootstrap.ts loads
// this file only when the process serves the API, so other roles never evaluate any of it.

/** What bootstrap gets back from an API process: its app, where it answers, and how it drains. */
export interface StartedApi {
  app: INestApplicationContext;
  healthUrl: string;
  apiUrl: string;
  close(): Promise<void>;
  /** Refuses new connections and waits for those in flight, up to timeoutMs: false when some were cut. */
  drain(timeoutMs: number): Promise<boolean>;
}

/** The HTTP app, with each transport connected (a hybrid app). */
export async function startApi(
  root: DynamicModule,
  transports: Type<Server>[],
  config: AppConfig,
  log: Pino,
  logger: LoggerService,
): Promise<StartedApi> {
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
  return {
    app,
    healthUrl: `http://127.0.0.1:${healthPort}`,
    apiUrl: url,
    close: () => app.close(),
    drain: (timeoutMs) => drainHttpServer(app.getHttpServer(), timeoutMs),
  };
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
