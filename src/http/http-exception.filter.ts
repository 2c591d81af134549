import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { asDatabaseUnavailable } from '../database/database-errors.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { CallAuditor } from './call-context.js';

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

/** Body-parser errors (bad JSON, too large) arrive as plain errors with a status and type. */
interface ParserError {
  status?: number;
  type?: string;
  message: string;
}

export function toErrorBody(e: unknown): ErrorBody {
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
  const p = e as ParserError;
  if (p?.type === 'entity.too.large') {
    return {
      statusCode: 413,
      error: REASON[413],
      message: 'request body is larger than MAX_BODY_BYTES',
      code: ErrorCode.PayloadTooLarge,
    };
  }
  if (p?.type === 'entity.parse.failed') {
    return {
      statusCode: 400,
      error: REASON[400],
      message: `body is not valid JSON: ${p.message}`,
      code: ErrorCode.ValidationFailed,
    };
  }
  if (typeof p?.status === 'number' && p.status >= 400 && p.status < 500) {
    return { statusCode: p.status, error: REASON[p.status] ?? 'Error', message: p.message };
  }
  return { statusCode: 500, error: REASON[500], message: 'internal error' };
}

@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpExceptionFilter.name);

  /** auditor: records refusals and errors in the audit trail before they are sent. */
  constructor(private readonly auditor?: CallAuditor) {}

  async catch(e: unknown, host: ArgumentsHost) {
    const body = toErrorBody(e);
    const res = host.switchToHttp().getResponse<Response>();
    // RFC 6750: a 401 names the scheme the client must use.
    if (body.statusCode === HttpStatus.UNAUTHORIZED) res.setHeader('WWW-Authenticate', 'Bearer');
    await this.auditor?.recordCall(host.switchToHttp().getRequest<Request>(), body.statusCode, {
      errorCode: body.code,
    });
    if (body.statusCode === HttpStatus.SERVICE_UNAVAILABLE) {
      res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      this.logger.warn(`${body.code ?? 'unavailable'}: ${e instanceof Error ? e.message : String(e)}`);
    } else if (body.statusCode >= 500) {
      this.logger.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    }
    res.status(body.statusCode).json(body);
  }
}
