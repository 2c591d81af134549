import { EventEmitter } from 'node:events';
import type { DataSource } from 'typeorm';
import {
  AdvisoryLockLost,
  advisoryUnlockSql,
  holdsAdvisoryLock,
  lockKeySql,
  tryAdvisoryLockSql,
  tryWithAdvisoryLock,
  tryWithAdvisoryLockInRead,
  withAdvisoryLock,
} from './advisory-lock.js';

/** A stand-in for TypeORM's postgres query runner: records statements, answers the lock functions. */
class FakeRunner {
  client = new EventEmitter();
  statements: { sql: string; params: unknown[] }[] = [];
  isReleased = false;
  /** pooled: released back to the pool; discarded: released with an error, so the pool drops it. */
  releasedAs?: 'pooled' | 'discarded';
  lockFree = true;
  failUnlock = false;

  connect = async () => this.client;
  query = async (sql: string, params: unknown[]) => {
    this.statements.push({ sql, params });
    if (sql.includes('pg_try_advisory_lock')) return [{ acquired: this.lockFree }];
    if (sql.includes('pg_advisory_unlock') && this.failUnlock) throw new Error('Connection terminated');
    return [{ ok: 1 }];
  };
  release = async () => {
    this.isReleased = true;
    this.releasedAs = 'pooled';
  };
  releasePostgresConnection = async () => {
    this.isReleased = true;
    this.releasedAs = 'discarded';
  };
  sqls = () => this.statements.map((s) => s.sql);
}

const dataSource = (runner: FakeRunner) => ({ createQueryRunner: () => runner }) as unknown as DataSource;

describe('advisory lock keys', () => {
  it('hashes a name with hashtextextended and passes a fixed key as a bigint, one derivation for every site', () => {
    expect(lockKeySql('ns/web')).toBe('hashtextextended($1, 0)');
    expect(lockKeySql(0x6b38_7265)).toBe('$1::bigint');
    expect(() => lockKeySql(1.5)).toThrow(RangeError);
    expect(lockKeySql('ns/web', '$3')).toBe('hashtextextended($3, 0)');
    expect(advisoryUnlockSql(0x6b38_7265, '$2')).toBe('pg_advisory_unlock($2::bigint)');
    expect(tryAdvisoryLockSql(`namespace || '/' || name`)).toBe(
      `pg_try_advisory_lock(hashtextextended(namespace || '/' || name, 0))`,
    );
  });

  it('checks that this very session holds the lock with the same key derivation', async () => {
    const seen: { sql: string; params: unknown[] }[] = [];
    const held = await holdsAdvisoryLock(async (sql, params) => {
      seen.push({ sql, params });
      return [{ held: true }];
    }, 'watcher');
    expect(held).toBe(true);
    expect(seen[0].sql).toMatch(/pid = pg_backend_pid\(\)[\s\S]*= hashtextextended\(\$1, 0\)/);
    expect(seen[0].params).toEqual(['watcher']);
  });
});

describe('tryWithAdvisoryLock', () => {
  it('does not run fn and gives the session back when another session holds the lock', async () => {
    const runner = new FakeRunner();
    runner.lockFree = false;
    let ran = false;
    const attempt = await tryWithAdvisoryLock(dataSource(runner), 'ns/web', async () => (ran = true));
    expect(attempt).toEqual({ acquired: false });
    expect(ran).toBe(false);
    expect(runner.sqls()).toEqual(['SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS acquired']);
    expect(runner.releasedAs).toBe('pooled');
  });

  it("runs fn's statements on the lock's own session, then unlocks and pools the session", async () => {
    const runner = new FakeRunner();
    const attempt = await tryWithAdvisoryLock(dataSource(runner), 'ns/web', async (session) => {
      await session.query('UPDATE deployment_requests SET status = $1', ['PROCESSING']);
      return 'done';
    });
    expect(attempt).toEqual({ acquired: true, value: 'done' });
    expect(runner.sqls()).toEqual([
      'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS acquired',
      'UPDATE deployment_requests SET status = $1',
      'SELECT pg_advisory_unlock(hashtextextended($1, 0))',
    ]);
    expect(runner.statements.map((s) => s.params[0])).toEqual(['ns/web', 'PROCESSING', 'ns/web']);
    expect(runner.releasedAs).toBe('pooled');
  });

  it('unlocks and pools the session when fn throws, and passes the error on', async () => {
    const runner = new FakeRunner();
    await expect(
      tryWithAdvisoryLock(dataSource(runner), 'ns/web', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(runner.sqls().at(-1)).toBe('SELECT pg_advisory_unlock(hashtextextended($1, 0))');
    expect(runner.releasedAs).toBe('pooled');
  });

  it('fences a lost session: later statements throw AdvisoryLockLost, nothing runs, and the session is discarded', async () => {
    const runner = new FakeRunner();
    const attempt = tryWithAdvisoryLock(dataSource(runner), 'ns/web', async (session) => {
      await session.query('SELECT 1', []);
      // The backend is terminated while we hold the session: pg reports it outside any query.
      runner.client.emit('error', new Error('terminating connection due to administrator command'));
      await session.query('UPDATE deployment_requests SET status = $1', ['SUCCESS']);
    });
    await expect(attempt).rejects.toBeInstanceOf(AdvisoryLockLost);
    await expect(attempt).rejects.toThrow('lost the lock of ns/web: terminating connection');
    expect(runner.sqls()).not.toContain('UPDATE deployment_requests SET status = $1');
    expect(runner.sqls().some((s) => s.includes('pg_advisory_unlock'))).toBe(false);
    expect(runner.releasedAs).toBe('discarded');
  });

  it('fences a session whose statement fails on a dead connection before the error event is seen', async () => {
    const runner = new FakeRunner();
    const attempt = tryWithAdvisoryLock(dataSource(runner), 'ns/web', async (session) => {
      runner.query = () => Promise.reject(new Error('Connection terminated unexpectedly'));
      await session.query('SELECT 1', []).catch(() => undefined);
      // Later statements are refused without reaching the connection.
      runner.query = () => Promise.reject(new Error('must not be sent'));
      await session.query('UPDATE deployment_requests SET status = $1', ['SUCCESS']);
    });
    await expect(attempt).rejects.toBeInstanceOf(AdvisoryLockLost);
    await expect(attempt).rejects.toThrow('lost the lock of ns/web: Connection terminated unexpectedly');
    expect(runner.releasedAs).toBe('discarded');
  });

  it('passes on a statement error that is not a lost connection, and keeps the session', async () => {
    const runner = new FakeRunner();
    const query = runner.query;
    const attempt = tryWithAdvisoryLock(dataSource(runner), 'ns/web', async (session) => {
      runner.query = () => Promise.reject(Object.assign(new Error('duplicate key'), { code: '23505' }));
      const failed = await session.query('INSERT', []).catch((e: Error) => e);
      runner.query = query;
      return failed;
    });
    const outcome = await attempt;
    expect(outcome.acquired && outcome.value).toMatchObject({ code: '23505' });
    expect(outcome.acquired && outcome.value).not.toBeInstanceOf(AdvisoryLockLost);
    expect(runner.releasedAs).toBe('pooled');
  });

  it('discards a session whose unlock failed: it may still hold the lock', async () => {
    const runner = new FakeRunner();
    runner.failUnlock = true;
    const attempt = await tryWithAdvisoryLock(dataSource(runner), 'ns/web', async () => 1);
    expect(attempt).toEqual({ acquired: true, value: 1 });
    expect(runner.releasedAs).toBe('discarded');
  });
});

describe('withAdvisoryLock', () => {
  it('waits for the lock (pg_advisory_lock), runs fn, unlocks, with a fixed bigint key', async () => {
    const runner = new FakeRunner();
    const value = await withAdvisoryLock(dataSource(runner), 0x6b38_646d, async () => ['m1']);
    expect(value).toEqual(['m1']);
    expect(runner.sqls()).toEqual(['SELECT pg_advisory_lock($1::bigint)', 'SELECT pg_advisory_unlock($1::bigint)']);
    expect(runner.statements.map((s) => s.params)).toEqual([[0x6b38_646d], [0x6b38_646d]]);
    expect(runner.releasedAs).toBe('pooled');
  });
});

describe('tryWithAdvisoryLockInRead', () => {
  const READ = 'SELECT status, pg_try_advisory_lock(...) AS locked';
  const read = (locked: boolean) => async (query: (sql: string, params: unknown[]) => Promise<unknown>) => {
    await query(READ, ['r1']);
    return { value: 'QUEUED', locked: locked ? 'ns/web' : undefined };
  };

  it('runs fn with what the read found when the read took the lock, then unlocks and pools the session', async () => {
    const runner = new FakeRunner();
    const result = await tryWithAdvisoryLockInRead(dataSource(runner), read(true), async (session, status) => {
      await session.query('SELECT 1', []);
      return `${session.key} ${status}`;
    });
    expect(result).toEqual({ read: 'QUEUED', attempt: { acquired: true, value: 'ns/web QUEUED' } });
    expect(runner.sqls()).toEqual([READ, 'SELECT 1', 'SELECT pg_advisory_unlock(hashtextextended($1, 0))']);
    expect(runner.releasedAs).toBe('pooled');
  });

  it('answers the read alone, pooling the session, when the read took no lock', async () => {
    const runner = new FakeRunner();
    let ran = false;
    const result = await tryWithAdvisoryLockInRead(dataSource(runner), read(false), async () => (ran = true));
    expect(result).toEqual({ read: 'QUEUED', attempt: { acquired: false } });
    expect([ran, runner.sqls(), runner.releasedAs]).toEqual([false, [READ], 'pooled']);
  });

  it('discards the session when the read fails: it may have taken the lock first', async () => {
    const runner = new FakeRunner();
    const failing = async () => {
      throw new Error('division by zero');
    };
    await expect(tryWithAdvisoryLockInRead(dataSource(runner), failing, async () => 1)).rejects.toThrow('division');
    expect(runner.releasedAs).toBe('discarded');
  });

  it('once a statement gave the lock back, refuses later statements and does not unlock again', async () => {
    const runner = new FakeRunner();
    const attempt = tryWithAdvisoryLockInRead(dataSource(runner), read(true), async (session) => {
      await session.query(`SELECT ${advisoryUnlockSql(session.key, '$1')} AS released`, [session.key]);
      session.released();
      await session.query('UPDATE deployment_requests SET status = $1', ['SUCCESS']);
    });
    await expect(attempt).rejects.toBeInstanceOf(AdvisoryLockLost);
    expect(runner.sqls()).toEqual([READ, 'SELECT pg_advisory_unlock(hashtextextended($1, 0)) AS released']);
    expect(runner.releasedAs).toBe('pooled');
  });
});
