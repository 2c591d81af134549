import type { IncomingMessage } from 'node:http';
import {
  type DynamicModule,
  type INestApplicationContext,
  type LoggerService,
  type Type,
  ValidationPipe,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestMicroservice, type Server } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import helmet from '@fastify/helmet';
import { useContainer } from 'class-validator';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as Pino } from 'pino';
import { trustProxySetting, type AppConfig } from './config/app-config.js';
import { AuditService } from './audit/audit.service.js';
import { HttpExceptionFilter, toErrorBody } from './http/http-exception.filter.js';
import { httpLogging, noteRouteTemplate, requestIdFor, REQUEST_ID_HEADER } from './common/logging-http.js';
import { RawInputPipe } from './http/raw-input.pipe.js';
import { BODY_REJECTED_ACTION, methodNotAllowed, parseJsonBody, unsupportedBody } from './http/http-edges.js';
import { HealthServer } from './health/health.server.js';
import { HandlerErrorFilter } from './messaging/handler-error.filter.js';
import { buildOpenApi } from './openapi.js';
import { VALIDATOR_PROVIDERS } from './requests/requests-api.module.js';
import { httpMetricsHook } from './http/http-metrics.hook.js';
import { MetricsService } from './metrics/metrics.service.js';
import { ShutdownSignal } from './common/shutdown.js';
import { drainHttpServer } from './graceful-shutdown.js';

// The API's HTTP edge: Fastify, helmet, the validation pipes and Swagger. bootstrap.ts loads
// this file only when the process serves the API, so other roles never evaluate any of it.

/**
 * Longer than any path parameter a client may mean (Fastify's default is 100): validation, not
 * the router, says which one is too long and why. Node's header limit bounds the URL anyway.
 */
const MAX_PARAM_LENGTH = 16 * 1024;

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
  const adapter = new FastifyAdapter({
    bodyLimit: config.MAX_BODY_BYTES,
    trustProxy: trustProxySetting(config.TRUST_PROXY),
    // The correlation id: the client's X-Request-Id when acceptable, else a new UUID.
    genReqId: (req: IncomingMessage) => requestIdFor(req.headers[REQUEST_ID_HEADER.toLowerCase()]),
    requestIdHeader: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // The router refuses a malformed URL (400) before any hook runs: the API's error body anyway.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      const body = toErrorBody(error);
      void reply.code(body.statusCode).send(body);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(root, adapter, {
    logger,
    bodyParser: false,
    abortOnError: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  // Helmet's hook first, so every answer below, refusals included, has its headers.
  await hardenEdges(app, config);
  const audit = app.get(AuditService);
  const requestLogging = httpLogging(log);
  fastify.addHook('onRequest', requestLogging.onRequest);
  fastify.addHook('onResponse', httpMetricsHook(app.get(MetricsService)));
  // Draining: answers say the connection ends, so clients open new ones (to another replica).
  const draining = app.get(ShutdownSignal);
  fastify.addHook('onRequest', (_request, reply, done) => {
    if (draining.requested) reply.raw.setHeader('Connection', 'close');
    done();
  });
  // 405 with Allow for methods a known path lacks (asked only when no route matched); 415 for
  // bodies that are not JSON. Both before the body is read, audited like a refused body.
  const wrongMethod = methodNotAllowed(() => buildOpenApi(app));
  fastify.addHook('onRequest', (request, reply, done) => {
    const refused = request.is404 ? wrongMethod(request.method, request.url) : undefined;
    const error = refused?.error ?? unsupportedBody(request.headers);
    if (!error) return done();
    if (refused) reply.header('Allow', refused.allow);
    const body = toErrorBody(error);
    void audit
      .recordCall(request, body.statusCode, { errorCode: body.code, action: BODY_REJECTED_ACTION })
      .finally(() => reply.code(body.statusCode).send(body));
  });
  registerJsonParser(fastify);
  // Once the body is accepted: the route template (for the access line, metrics and audit) and
  // the correlation id bound to everything the handler logs.
  fastify.addHook('preHandler', (request, reply, done) => {
    if (!request.is404) noteRouteTemplate(request.raw, request.routeOptions.url);
    requestLogging.bindContext(request, reply, done);
  });
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
 * Security headers (helmet), CORS (off unless CORS_ORIGINS; the adapter runs its hook before
 * any other). Registered before the other hooks, so refused bodies get the headers too.
 */
async function hardenEdges(app: NestFastifyApplication, config: AppConfig) {
  await app.register(helmet, {
    contentSecurityPolicy: {
      // Swagger UI loads its scripts and styles from /docs itself. The API may be served over
      // plain HTTP behind no TLS proxy, where upgrading them to https would break it.
      directives: { upgradeInsecureRequests: null },
    },
  });
  if (config.CORS_ORIGINS.length)
    app.enableCors({
      origin: config.CORS_ORIGINS,
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'],
      exposedHeaders: ['Retry-After', 'Idempotent-Replayed', 'X-Request-Id'],
      maxAge: 600,
    });
}

/**
 * The only body parser: JSON (parseJsonBody) for every type, as unsupportedBody has refused the
 * others by then; Fastify enforces bodyLimit (413) while reading.
 */
function registerJsonParser(fastify: FastifyInstance) {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'string' }, (request, text, done) => {
    try {
      done(null, parseJsonBody(request.headers['content-type'], text as string));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
}

/**
 * Connects a transport to the HTTP app. Its listeners are registered when it starts, so
 * that HandlerErrorFilter applies (a connected microservice's global filters are read
 * then); the HTTP app runs the lifecycle hooks, so the microservice must not run them again.
 */
function connectTransport(app: NestFastifyApplication, transport: Type<Server>) {
  const ms = app.connectMicroservice({ strategy: app.get(transport) }, { deferInitialization: true });
  ms.useGlobalFilters(new HandlerErrorFilter());
  if (ms instanceof NestMicroservice) ms.setIsInitHookCalled(true);
}
