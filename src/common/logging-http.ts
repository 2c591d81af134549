import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Logger as Pino } from 'pino';
import { pinoHttp } from 'pino-http';
import { serializeError, withLogContext } from './logging.js';
import { scrubLogValue, scrubSecrets } from './logging-redaction.js';

export const REQUEST_ID_HEADER = 'X-Request-Id';
/** Long enough for a UUID, a W3C trace id or a load balancer's trace header; short enough for a NATS header and a column. */
export const REQUEST_ID_MAX_LENGTH = 128;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * A client's X-Request-Id, if we may use it as the correlation id: 1 to 128 visible ASCII
 * characters (no spaces, no control characters: it goes into log lines and NATS headers),
 * one header only, and nothing that looks like an API key (it is logged in the clear).
 */
export function acceptRequestId(header: unknown): string | undefined {
  if (typeof header !== 'string' || header.length > REQUEST_ID_MAX_LENGTH || !VISIBLE_ASCII.test(header))
    return undefined;
  return scrubSecrets(header) === header ? header : undefined;
}

/** The client's X-Request-Id when acceptable, else a new UUID. */
export const requestIdFor = (header: unknown): string => acceptRequestId(header) ?? randomUUID();

const ROUTE = Symbol('k8sdm.route');
type Routed = IncomingMessage & { [ROUTE]?: string };

/**
 * Notes the route template that answers the request, once its body is accepted: where Express's
 * router used to match, so that bodies refused before (400, 413, 415) and 405s stay unrouted.
 */
export function noteRouteTemplate(req: IncomingMessage, template: string | undefined): void {
  (req as Routed)[ROUTE] = template;
}

/** The route template that answered (`/v1/deployments/:namespace/:name`), or undefined when none matched. */
export const routeTemplate = (req: IncomingMessage): string | undefined => (req as Routed)[ROUTE];

/** Probes poll every few seconds; their access lines would drown the rest. */
const UNLOGGED_PATHS = new Set(['/healthz', '/readyz']);

/** What an access line says about the request: no body, headers without credentials. */
function accessRequest(r: {
  method?: string;
  url?: string;
  headers?: unknown;
  remoteAddress?: string;
  raw?: IncomingMessage;
}) {
  return {
    method: r.method,
    url: typeof r.url === 'string' ? scrubSecrets(r.url) : r.url,
    route: r.raw ? routeTemplate(r.raw) : undefined,
    headers: scrubLogValue(r.headers),
    remoteAddress: r.remoteAddress,
  };
}

const accessMessage = (req: IncomingMessage, res: ServerResponse) =>
  `${req.method} ${routeTemplate(req) ?? '(no route)'} ${res.statusCode}`;

type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

/**
 * The API's request logging, as two Fastify hooks (the correlation id is Fastify's request id,
 * made by requestIdFor):
 * - onRequest: echoes the id as X-Request-Id and starts the access line: pino-http, one line per
 *   response with the correlation id, method, route template, status and duration
 *   (`responseTime`, ms); before the body is read, so refused bodies are logged too;
 * - bindContext (preHandler): after the body is parsed, so every line logged while handling the
 *   request (and the intake that stores it) sees the correlation id.
 */
export function httpLogging(root: Pino): { onRequest: Hook; bindContext: Hook } {
  const accessLog = pinoHttp({
    logger: root,
    genReqId: (req) => req.id ?? randomUUID(),
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'correlationId' },
    autoLogging: { ignore: (req) => UNLOGGED_PATHS.has((req.url ?? '').split('?')[0]) },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessObject: (req, _res, value) => ({ req, ...value }),
    customErrorObject: (req, _res, _err, value) => ({ req, ...value }),
    customSuccessMessage: accessMessage,
    customErrorMessage: (req, res) => accessMessage(req, res),
    serializers: {
      req: accessRequest,
      res: (r: { statusCode?: number }) => ({ statusCode: r.statusCode }),
      err: serializeError,
    },
  });
  const onRequest: Hook = (request, reply, done) => {
    request.raw.id = request.id;
    // On the raw response: an answer sent for a refused body, or a stream written there, has it too.
    reply.raw.setHeader(REQUEST_ID_HEADER, request.id);
    accessLog(request.raw, reply.raw);
    done();
  };
  const bindContext: Hook = (request, _reply, done) => withLogContext({ correlationId: request.id }, done);
  return { onRequest, bindContext };
}
