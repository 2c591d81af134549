import type { NextFunction, Request, Response } from 'express';
import type { OpenAPIObject } from '@nestjs/swagger';
import { DomainError, ErrorCode } from '../domain/domain-error.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface KnownPath {
  pattern: RegExp;
  allow: string[];
}

/** Each documented path as a regex over the request path, with the methods it has (HEAD with GET, as Express serves it). */
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

/**
 * A method the document does not list for a path it knows answers 405 with Allow (not 404).
 * The document is built once, on the first call (routes are registered by then).
 */
export function methodNotAllowed(document: () => OpenAPIObject) {
  let paths: KnownPath[] | undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    paths ??= knownPaths(document());
    const known = paths.find((p) => p.pattern.test(req.path));
    if (!known || known.allow.includes(req.method)) return next();
    res.setHeader('Allow', known.allow.join(', '));
    next(
      new DomainError(
        ErrorCode.MethodNotAllowed,
        `${req.method} is not allowed on ${req.path}; allowed: ${known.allow.join(', ')}`,
      ),
    );
  };
}

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

/** A body that is not JSON answers 415 naming the type, rather than reaching validation as an empty body. */
export function requireJsonBody(req: Request, _res: Response, next: NextFunction) {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  const type = req.headers['content-type'];
  if (!hasBody || (type !== undefined && JSON_TYPE.test(type))) return next();
  next(
    new DomainError(
      ErrorCode.UnsupportedMediaType,
      `request body must be application/json${type ? `, not ${type.split(';')[0].trim().slice(0, 100)}` : ''}`,
    ),
  );
}
