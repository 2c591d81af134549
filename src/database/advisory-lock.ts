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

/** The only key derivation: the SQL expression that turns `param` (holding the key) into the lock's bigint. */
export function lockKeySql(key: AdvisoryLockKey, param = '$1'): string {
  if (typeof key === 'string') return nameKeySql(param);
  if (!Number.isSafeInteger(key)) throw new RangeError(`advisory lock key ${key} is not an integer`);
  return `${param}::bigint`;
}

const nameKeySql = (text: string) => `hashtextextended(${text}, 0)`;

/**
 * An expression that tries the lock named by `nameSql` (a text expression of the statement's
 * own columns) and is true when it took it: a read that locks in the same round trip. The rest
 * of that statement reads as of before the lock was taken, so what must be decided under the
 * lock is read again by a later statement.
 */
export function tryAdvisoryLockSql(nameSql: string): string {
  return `pg_try_advisory_lock(${nameKeySql(nameSql)})`;
}

/** An expression that gives the lock back, `param` holding its key: for a statement that ends the lock as it does its work (see LockSession.released). */
export function advisoryUnlockSql(key: AdvisoryLockKey, param: string): string {
  return `pg_advisory_unlock(${lockKeySql(key, param)})`;
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
  /** Throws AdvisoryLockLost once the session is known to be gone, or the lock given back. */
  query: SessionQuery;
  readonly key: AdvisoryLockKey;
  /**
   * A statement gave the lock back (with advisoryUnlockSql): later statements throw
   * AdvisoryLockLost, and the lock is not given back again, saving that round trip.
   */
  released(): void;
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
  const { attempt } = await runLocked(
    ds,
    async (query) => {
      await advisoryLock(query, key);
      return { value: undefined, locked: key };
    },
    fn,
  );
  return (attempt as { value: T }).value;
}

/** Runs fn holding the lock if no other session holds it; never waits. */
export async function tryWithAdvisoryLock<T>(
  ds: DataSource,
  key: AdvisoryLockKey,
  fn: (session: LockSession) => Promise<T>,
): Promise<LockAttempt<T>> {
  const { attempt } = await runLocked(
    ds,
    async (query) => ({ value: undefined, locked: (await tryAdvisoryLock(query, key)) ? key : undefined }),
    fn,
  );
  return attempt;
}

/**
 * A read that tries a lock in its own statement (see tryAdvisoryLockSql), then fn holding the
 * lock if the read took it: one round trip fewer than reading, then locking. `read` runs on the
 * session and answers what it read and the key of the lock it took, if it took one.
 */
export async function tryWithAdvisoryLockInRead<R, T>(
  ds: DataSource,
  read: (query: SessionQuery) => Promise<{ value: R; locked?: AdvisoryLockKey }>,
  fn: (session: LockSession, read: R) => Promise<T>,
): Promise<{ read: R; attempt: LockAttempt<T> }> {
  return runLocked(ds, read, fn);
}

async function runLocked<R, T>(
  ds: DataSource,
  take: (query: SessionQuery) => Promise<{ value: R; locked?: AdvisoryLockKey }>,
  fn: (session: LockSession, read: R) => Promise<T>,
): Promise<{ read: R; attempt: LockAttempt<T> }> {
  const runner: QueryRunner = ds.createQueryRunner();
  const client = (await runner.connect()) as EventEmitter;
  // A backend terminated while we hold the session emits 'error' outside any query: note it, never crash.
  let lost: Error | undefined;
  const onError = (e: Error) => (lost ??= e);
  client.on('error', onError);
  const onSession: SessionQuery = (sql, params) => runner.query(sql, params);
  let key: AdvisoryLockKey | undefined;
  let givenBack = false;
  try {
    let taken: Awaited<ReturnType<typeof take>>;
    try {
      taken = await take(onSession);
    } catch (e) {
      // The statement may have taken the lock before it failed: the session must not be pooled.
      lost ??= e as Error;
      throw e;
    }
    key = taken.locked;
    if (key === undefined) return { read: taken.value, attempt: { acquired: false } };
    const lockKey = key;
    const session: LockSession = {
      key: lockKey,
      released: () => {
        givenBack = true;
      },
      query: async (sql, params) => {
        if (lost || runner.isReleased) throw new AdvisoryLockLost(lockKey, lost);
        if (givenBack) throw new AdvisoryLockLost(lockKey, new Error('given back'));
        try {
          return await runner.query(sql, params);
        } catch (e) {
          // The statement can fail on a dead connection before the client's 'error' event has
          // been seen: the session, and so the lock, is gone all the same.
          if (!asDatabaseUnavailable(e)) throw e;
          lost ??= e as Error;
          throw new AdvisoryLockLost(lockKey, lost);
        }
      },
    };
    return { read: taken.value, attempt: { acquired: true, value: await fn(session, taken.value) } };
  } finally {
    if (key !== undefined && !givenBack && !lost && !runner.isReleased) {
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
