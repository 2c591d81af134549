import type { EventEmitter } from 'node:events';
import type { DataSource, QueryRunner } from 'typeorm';
import { asDatabaseUnavailable } from './database-errors.js';

/**
 * PostgreSQL session advisory locks, in one place: how a key becomes a lock, and how a lock
 * is taken, used and given back. A session lock lives exactly as long as its session, so a
 * session that may still hold one is never handed back to the pool.
 */

/** A lock name (PostgreSQL hashes it to a bigint with hashtextextended) or a fixed bigint key. */
export type AdvisoryLockKey = string | number;

/** Runs one statement on a session and resolves to its rows. */
export type SessionQuery = (sql: string, params: unknown[]) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The only key derivation: the SQL expression that turns $1 into the lock's bigint. */
export function lockKeySql(key: AdvisoryLockKey): string {
  if (typeof key === 'string') return 'hashtextextended($1, 0)';
  if (!Number.isSafeInteger(key)) throw new RangeError(`advisory lock key ${key} is not an integer`);
  return '$1::bigint';
}

/** Takes the lock on this session, waiting while another session holds it. */
export async function advisoryLock(query: SessionQuery, key: AdvisoryLockKey): Promise<void> {
  await query(`SELECT pg_advisory_lock(${lockKeySql(key)})`, [key]);
}

/** Takes the lock on this session unless another session holds it; never waits. */
export async function tryAdvisoryLock(query: SessionQuery, key: AdvisoryLockKey): Promise<boolean> {
  const [{ acquired }] = await query(`SELECT pg_try_advisory_lock(${lockKeySql(key)}) AS acquired`, [key]);
  return acquired;
}

export async function advisoryUnlock(query: SessionQuery, key: AdvisoryLockKey): Promise<void> {
  await query(`SELECT pg_advisory_unlock(${lockKeySql(key)})`, [key]);
}

/** Whether this very session holds the lock now (a bigint lock is classid:objid with objsubid 1). */
export async function holdsAdvisoryLock(query: SessionQuery, key: AdvisoryLockKey): Promise<boolean> {
  const [{ held }] = await query(
    `SELECT EXISTS (
       SELECT 1 FROM pg_locks
       WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
         AND ((classid::bigint << 32) | objid::bigint) = ${lockKeySql(key)}) AS held`,
    [key],
  );
  return held;
}

/** The session holding a lock is gone: PostgreSQL has freed the lock, so nothing more may be done under it. */
export class AdvisoryLockLost extends Error {
  override name = 'AdvisoryLockLost';
  constructor(key: AdvisoryLockKey, cause?: Error) {
    super(`lost the lock of ${key}: ${cause?.message ?? 'session closed'}`);
  }
}

/** The session that holds a lock. Each statement that succeeds on it proves the lock is still held. */
export interface LockSession {
  /** Throws AdvisoryLockLost once the session is known to be gone. */
  query: SessionQuery;
}

export type LockAttempt<T> = { acquired: false } | { acquired: true; value: T };

/** TypeORM's postgres runner: releasing with an error makes the pool discard the connection. */
interface PgQueryRunner {
  releasePostgresConnection(err: Error): Promise<void>;
}

/** Runs fn holding the lock, waiting for it first if another session holds it. */
export async function withAdvisoryLock<T>(
  ds: DataSource,
  key: AdvisoryLockKey,
  fn: (session: LockSession) => Promise<T>,
): Promise<T> {
  const attempt = await runLocked(ds, key, true, fn);
  return (attempt as { value: T }).value;
}

/** Runs fn holding the lock if no other session holds it; never waits. */
export function tryWithAdvisoryLock<T>(
  ds: DataSource,
  key: AdvisoryLockKey,
  fn: (session: LockSession) => Promise<T>,
): Promise<LockAttempt<T>> {
  return runLocked(ds, key, false, fn);
}

async function runLocked<T>(
  ds: DataSource,
  key: AdvisoryLockKey,
  wait: boolean,
  fn: (session: LockSession) => Promise<T>,
): Promise<LockAttempt<T>> {
  const runner: QueryRunner = ds.createQueryRunner();
  const client = (await runner.connect()) as EventEmitter;
  // A backend terminated while we hold the session emits 'error' outside any query: note it, never crash.
  let lost: Error | undefined;
  const onError = (e: Error) => (lost ??= e);
  client.on('error', onError);
  const onSession: SessionQuery = (sql, params) => runner.query(sql, params);
  let locked = false;
  try {
    if (wait) await advisoryLock(onSession, key);
    locked = wait || (await tryAdvisoryLock(onSession, key));
    if (!locked) return { acquired: false };
    const session: LockSession = {
      query: async (sql, params) => {
        if (lost || runner.isReleased) throw new AdvisoryLockLost(key, lost);
        try {
          return await runner.query(sql, params);
        } catch (e) {
          // The statement can fail on a dead connection before the client's 'error' event has
          // been seen: the session, and so the lock, is gone all the same.
          if (!asDatabaseUnavailable(e)) throw e;
          lost ??= e as Error;
          throw new AdvisoryLockLost(key, lost);
        }
      },
    };
    return { acquired: true, value: await fn(session) };
  } finally {
    if (locked && !lost && !runner.isReleased) {
      await advisoryUnlock(onSession, key).catch((e: Error) => {
        lost ??= e;
      });
    }
    // A session that may still hold the lock must never go back to the pool.
    if (lost && !runner.isReleased) await (runner as unknown as PgQueryRunner).releasePostgresConnection(lost);
    else if (!runner.isReleased) await runner.release();
    if (!lost) client.removeListener('error', onError);
  }
}
