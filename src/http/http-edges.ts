import type { IncomingHttpHeaders } from 'node:http';
import type { OpenAPIObject } from '@nestjs/swagger';
import { DomainError, ErrorCode } from '../domain/domain-error.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface KnownPath {
  pattern: RegExp;
  allow: string[];
}

/** Each documented path as a regex over the request path, with the methods it has (HEAD with GET, as Fastify serves it). */
export function knownPaths(doc: OpenAPIObject): KnownPath[] {
  return Object.entries(doc.paths).map(([template, item]) => {
    const methods = METHODS.filter((m) => (item as Record<string, unknown>)[m]).map((m) => m.toUpperCase());
    if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    const source = template
      .split(/\{[^}]+\}/)
      .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
      .join('[^/]+');
    return { pattern: new RegExp(`^${source}/?$`), allow: methods };
  });
}

/** A 405's error and its Allow header. */
export interface MethodRefusal {
  allow: string;
  error: DomainError;
}

/**
 * A method the document does not list for a path it knows answers 405 with Allow (not 404).
 * Asked only of requests no route matched. The document is built once, on the first call
 * (routes are registered by then).
 */
export function methodNotAllowed(document: () => OpenAPIObject) {
  let paths: KnownPath[] | undefined;
  return (method: string, url: string): MethodRefusal | undefined => {
    paths ??= knownPaths(document());
    const path = url.split('?')[0];
    const known = paths.find((p) => p.pattern.test(path));
    if (!known || known.allow.includes(method)) return undefined;
    const allow = known.allow.join(', ');
    return {
      allow,
      error: new DomainError(ErrorCode.MethodNotAllowed, `${method} is not allowed on ${path}; allowed: ${allow}`),
    };
  };
}

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

/** A body that is not JSON answers 415 naming the type, rather than reaching validation as an empty body. */
export function unsupportedBody(headers: IncomingHttpHeaders): DomainError | undefined {
  const length = headers['content-length'];
  const hasBody = headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  const type = headers['content-type'];
  if (!hasBody || (type !== undefined && JSON_TYPE.test(type))) return undefined;
  return new DomainError(
    ErrorCode.UnsupportedMediaType,
    `request body must be application/json${type ? `, not ${type.split(';')[0].trim().slice(0, 100)}` : ''}`,
  );
}

/** A body the JSON parser refused: told apart so that its audit entry says so. */
export class BodyRejected extends DomainError {}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;
const FIRST_CHAR = /^[ \t\n\r]*(.)/s;

/**
 * The request body as the API takes it: UTF-8 JSON whose top level is an object or an array
 * (as Express's strict JSON parser took it), undefined when empty. Plain JSON.parse, not
 * Fastify's parser, which refuses `__proto__` and `constructor` keys itself: RawInputPipe
 * refuses those naming the field.
 */
export function parseJsonBody(contentType: string | undefined, text: string): unknown {
  const charset = CHARSET.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && !charset.startsWith('utf-'))
    throw new BodyRejected(
      ErrorCode.UnsupportedMediaType,
      `unsupported charset "${charset.toUpperCase().slice(0, 40)}"`,
    );
  if (text === '') return undefined;
  const first = FIRST_CHAR.exec(text)?.[1];
  if (first !== '{' && first !== '[')
    throw new BodyRejected(
      ErrorCode.ValidationFailed,
      `body is not valid JSON: the top level must be an object or an array${first ? `, not ${JSON.stringify(first)}` : ''}`,
    );
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new BodyRejected(ErrorCode.ValidationFailed, `body is not valid JSON: ${(e as Error).message}`);
  }
}

/** Fastify's own refusals of a body (FST_ERR_CTP_*: too large, length mismatch), however Nest wrapped them. */
export function fastifyBodyError(e: unknown): { code: string; statusCode?: number } | undefined {
  const inner = e instanceof Error && e.cause instanceof Error ? e.cause : e;
  const code = (inner as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('FST_ERR_CTP_')
    ? { code, statusCode: (inner as { statusCode?: number }).statusCode }
    : undefined;
}

/** Whether an error refused the request's body (or its type) before any route handled it. */
export const isBodyRejection = (e: unknown): boolean => e instanceof BodyRejected || !!fastifyBodyError(e);

/** The audit action of a call refused at the edge (405, 415, a body refused), before any route handled it. */
export const BODY_REJECTED_ACTION = 'request.bodyRejected';
