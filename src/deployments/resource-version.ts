import { DomainError, ErrorCode } from '../domain/domain-error.js';

/**
 * resourceVersions as KEP-5504 (Kubernetes 1.35, client-go's CompareResourceVersion)
 * defines them: a positive decimal integer without leading zeros, comparable only between
 * objects of one resource in one cluster's etcd history. Anything else is an error to
 * report, never a reason to crash; across a restored etcd or another cluster the numbers
 * mean nothing, which the mirror detects separately (mirror-sync.service.ts).
 */
const WELL_FORMED = /^[1-9][0-9]*$/;
/** The same rule for SQL (`~`). */
export const RV_PATTERN_SQL = `'^[1-9][0-9]*$'`;

export function isWellFormedResourceVersion(rv: unknown): rv is string {
  return typeof rv === 'string' && WELL_FORMED.test(rv);
}

export function assertWellFormedResourceVersion(rv: unknown, what: string): asserts rv is string {
  if (!isWellFormedResourceVersion(rv)) {
    throw new DomainError(
      ErrorCode.InvalidResourceVersion,
      `${what} has a malformed resourceVersion ${JSON.stringify(rv)}: expected a positive integer without leading zeros`,
    );
  }
}

/** -1, 0 or 1 as a is older than, equal to or newer than b; throws InvalidResourceVersion on a malformed one. */
export function compareResourceVersions(a: string, b: string): -1 | 0 | 1 {
  assertWellFormedResourceVersion(a, 'left operand');
  assertWellFormedResourceVersion(b, 'right operand');
  // Canonical integers: the longer is larger; of equal length, the text order is the numeric one.
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/**
 * SQL: the stored version `stored` is strictly older than `incoming` (which the caller
 * has validated). A malformed stored value counts as older, so a valid version replaces
 * it instead of the comparison throwing (a `::numeric` cast would, on "abc").
 */
export const sqlRvOlder = (stored: string, incoming: string) =>
  `(${stored} !~ ${RV_PATTERN_SQL} OR (length(${stored}), ${stored} COLLATE "C") < (length(${incoming}), ${incoming} COLLATE "C"))`;

/** SQL: `stored` is at most `incoming` (same rule: malformed counts as older). */
export const sqlRvAtMost = (stored: string, incoming: string) =>
  `(${stored} !~ ${RV_PATTERN_SQL} OR (length(${stored}), ${stored} COLLATE "C") <= (length(${incoming}), ${incoming} COLLATE "C"))`;
