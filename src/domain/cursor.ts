import { DomainError, ErrorCode } from './domain-error.js';
import { rawInputProblems } from './validators.js';

// Not in http/pagination.ts: its DTO carries Swagger decorators, which the services that page
// (some run in roles without the API) must not load.

/** Opaque cursors: base64url JSON of the sort key of the last row returned. */
export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (!cursor) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    v = undefined;
  }
  // A forged cursor may carry NUL or lone surrogates, which PostgreSQL refuses with an error.
  if (!check(v) || rawInputProblems(v).length > 0)
    throw new DomainError(ErrorCode.ValidationFailed, 'cursor is not a cursor this API returned');
  return v;
}
