import { DomainError, ErrorCode } from '../domain/domain-error.js';

// Socket-level failures reaching PostgreSQL (node's errno codes).
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// SQLSTATEs that mean "the server is not there for us right now": class 08 (connection
// exception), 53300 too_many_connections, 57P01-57P03 shutdown / cannot connect now.
const UNAVAILABLE_SQLSTATE = /^(08...|53300|57P0[123])$/;

// What pg and pg-pool say when the connection drops or cannot be made in time.
const UNAVAILABLE_MESSAGE =
  /connection terminated|timeout exceeded when trying to connect|connection timeout|is not queryable|connect ECONNREFUSED/i;

interface DriverLikeError {
  code?: unknown;
  message?: unknown;
  driverError?: unknown;
  cause?: unknown;
  errors?: unknown;
}

function isUnavailable(e: unknown, depth = 0): boolean {
  if (!e || typeof e !== 'object' || depth > 4) return false;
  const d = e as DriverLikeError;
  if (typeof d.code === 'string' && (NETWORK_CODES.has(d.code) || UNAVAILABLE_SQLSTATE.test(d.code))) return true;
  if (typeof d.message === 'string' && UNAVAILABLE_MESSAGE.test(d.message)) return true;
  // TypeORM wraps driver errors (QueryFailedError.driverError); node wraps multi-address failures.
  if (isUnavailable(d.driverError, depth + 1) || isUnavailable(d.cause, depth + 1)) return true;
  return Array.isArray(d.errors) && d.errors.some((x) => isUnavailable(x, depth + 1));
}

/** A DatabaseUnavailable DomainError when e says PostgreSQL cannot be reached; undefined otherwise. */
export function asDatabaseUnavailable(e: unknown): DomainError | undefined {
  if (e instanceof DomainError || !isUnavailable(e)) return undefined;
  return new DomainError(ErrorCode.DatabaseUnavailable, 'the database is unavailable; retry later');
}
