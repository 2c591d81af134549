import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { asDatabaseUnavailable } from '../database/database-errors.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { CallAuditor } from './call-context.js';
import { BODY_REJECTED_ACTION, fastifyBodyError, isBodyRejection } from './http-edges.js';

/** The HTTP status of each domain error code: the API's one mapping. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.ValidationFailed]: HttpStatus.BAD_REQUEST,
  [ErrorCode.NamespaceNotAllowed]: HttpStatus.FORBIDDEN,
  [ErrorCode.PayloadTooLarge]: HttpStatus.PAYLOAD_TOO_LARGE,
  [ErrorCode.IdempotencyKeyReused]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCode.RequestNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.DeploymentNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.ReconcileRunNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.RequestNotRetryable]: HttpStatus.CONFLICT,
  [ErrorCode.Conflict]: HttpStatus.CONFLICT,
  [ErrorCode.ResourceVersionConflict]: HttpStatus.CONFLICT,
  [ErrorCode.Forbidden]: HttpStatus.FORBIDDEN,
  [ErrorCode.NotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.NamespaceNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.Invalid]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCode.Unauthorized]: HttpStatus.BAD_GATEWAY,
  [ErrorCode.KubernetesUnavailable]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.KubernetesError]: HttpStatus.BAD_GATEWAY,
  [ErrorCode.DeadlineExceeded]: HttpStatus.GATEWAY_TIMEOUT,
  [ErrorCode.DeadLettered]: HttpStatus.CONFLICT,
  [ErrorCode.QueueUnavailable]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.DependencyUnavailable]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.RetrySuperseded]: HttpStatus.CONFLICT,
  [ErrorCode.DatabaseUnavailable]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.InvalidResourceVersion]: HttpStatus.BAD_GATEWAY,
  [ErrorCode.AuthenticationRequired]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.PermissionDenied]: HttpStatus.FORBIDDEN,
  [ErrorCode.RateLimited]: HttpStatus.TOO_MANY_REQUESTS,
  [ErrorCode.ApiKeyNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.MethodNotAllowed]: HttpStatus.METHOD_NOT_ALLOWED,
  [ErrorCode.UnsupportedMediaType]: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  [ErrorCode.RevisionNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.DeploymentBeingDeleted]: HttpStatus.CONFLICT,
  [ErrorCode.TooManyEventStreams]: HttpStatus.TOO_MANY_REQUESTS,
};

/** Sent with every 503: long enough for a connection pool to reconnect, short enough to notice recovery. */
export const RETRY_AFTER_SECONDS = 5;

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
  code?: string;
  details?: Record<string, unknown>;
}

export function toErrorBody(e: unknown): ErrorBody {
  // Nest hands Fastify's body errors over as HttpExceptions with the original as the cause.
  if (fastifyBodyError(e)?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      statusCode: 413,
      error: REASON[413],
      message: 'request body is larger than MAX_BODY_BYTES',
      code: ErrorCode.PayloadTooLarge,
    };
  }
  if (!(e instanceof HttpException)) e = asDatabaseUnavailable(e) ?? e;
  if (e instanceof DomainError) {
    const statusCode = HTTP_STATUS[e.code];
    return {
      statusCode,
      error: REASON[statusCode] ?? 'Error',
      message: e.message,
      code: e.code,
      ...(e.details ? { details: e.details } : {}),
    };
  }
  if (e instanceof HttpException) {
    const statusCode = e.getStatus();
    // A 5xx HttpException's text is about our insides, never about the caller's input.
    if (statusCode >= 500) return { statusCode, error: REASON[statusCode] ?? 'Error', message: 'internal error' };
    const r = e.getResponse();
    const message =
      typeof r === 'object' && r && 'message' in r ? (r as { message: string | string[] }).message : e.message;
    return { statusCode, error: REASON[statusCode] ?? e.name, message };
  }
  // Other errors with a 4xx status (Fastify's own, not wrapped) say what was wrong with the request.
  const status = (e as { statusCode?: unknown } | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { statusCode: status, error: REASON[status] ?? 'Error', message: (e as Error).message };
  }
  return { statusCode: 500, error: REASON[500], message: 'internal error' };
}

@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpExceptionFilter.name);

  /** auditor: records refusals and errors in the audit trail before they are sent. */
  constructor(private readonly auditor?: CallAuditor) {}

  async catch(e: unknown, host: ArgumentsHost) {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    // A stream already under way (hijacked, headers sent) has its answer: a second one cannot follow.
    if (reply.sent || reply.raw.headersSent) {
      this.logger.error(`after the answer began: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return;
    }
    const body = toErrorBody(e);
    // RFC 6750: a 401 names the scheme the client must use.
    if (body.statusCode === HttpStatus.UNAUTHORIZED) reply.header('WWW-Authenticate', 'Bearer');
    await this.auditor?.recordCall(http.getRequest<FastifyRequest>(), body.statusCode, {
      errorCode: body.code,
      ...(isBodyRejection(e) ? { action: BODY_REJECTED_ACTION } : {}),
    });
    if (body.statusCode === HttpStatus.SERVICE_UNAVAILABLE) {
      reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
      this.logger.warn(`${body.code ?? 'unavailable'}: ${e instanceof Error ? e.message : String(e)}`);
    } else if (body.statusCode >= 500) {
      this.logger.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    }
    void reply.status(body.statusCode).send(body);
  }
}
