import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Role } from '../config/roles.js';

/**
 * Roles that hold PostgreSQL session advisory locks: the worker (a deployment's lock), the
 * watcher (leader election) and the reconciler (one pass at a time, idle-target checks).
 * The API takes none, so it may sit behind any pooler.
 */
export const SESSION_LOCK_ROLES: readonly Role[] = ['worker', 'watcher', 'reconciler'];

export interface SessionPoolingProbe {
  sessionKept: boolean;
  detail: string;
}

const PROBE_ROUNDS = 3;
const PROBE = `SELECT pg_backend_pid() AS pid, current_setting('k8sdm.pooler_probe', true) AS token`;

/**
 * Checks that a client keeps one PostgreSQL backend (session) between statements, which a
 * pooler in transaction or statement mode does not: it hands an idle client's backend to
 * whichever client starts a transaction next, session locks and settings included.
 *
 * Client A marks its session (its backend pid and a random session setting). Then, for a few
 * rounds, client B opens a transaction (pinning whatever backend it got) and both read pid
 * and setting again. In a session, A's backend is A's alone for A's lifetime: B can never see
 * A's pid or setting, and A always sees its own, so there are no false alarms. Behind a
 * transaction pooler, B is given a backend A has released (the only one when the pool is
 * quiet, the latest one with pgbouncer's default LIFO reuse, or within two rounds with
 * round-robin reuse) and sees A's pid or setting, or A lands on another backend while B pins
 * its old one. A statement-mode pooler refuses B's BEGIN outright.
 */
export async function probeSessionPooling(url: string): Promise<SessionPoolingProbe> {
  const a = new pg.Client({ connectionString: url, application_name: 'dm-pooler-probe' });
  const b = new pg.Client({ connectionString: url, application_name: 'dm-pooler-probe' });
  await a.connect();
  try {
    await b.connect();
    const token = randomUUID();
    const first = await a.query<{ pid: number }>(
      `SELECT pg_backend_pid() AS pid, set_config('k8sdm.pooler_probe', $1, false)`,
      [token],
    );
    const pid = first.rows[0].pid;
    for (let round = 0; round < PROBE_ROUNDS; round++) {
      try {
        await b.query('BEGIN');
      } catch (e) {
        return { sessionKept: false, detail: `a transaction was refused (${(e as Error).message})` };
      }
      try {
        const other = (await b.query<{ pid: number; token: string | null }>(PROBE)).rows[0];
        if (other.pid === pid || other.token === token)
          return { sessionKept: false, detail: `another client's transaction ran on this client's backend ${pid}` };
        const again = (await a.query<{ pid: number; token: string | null }>(PROBE)).rows[0];
        if (again.pid !== pid || again.token !== token)
          return { sessionKept: false, detail: `one client's statements ran on backends ${pid} and ${again.pid}` };
      } finally {
        await b.query('COMMIT').catch(() => undefined);
      }
    }
    return { sessionKept: true, detail: `one client kept backend ${pid}` };
  } finally {
    await Promise.allSettled([a.end(), b.end()]);
  }
}

/** Refuses to start a role that relies on session locks behind a transaction-mode pooler. */
export async function assertSessionPooling(url: string, roles: readonly Role[]): Promise<void> {
  const lockRoles = roles.filter((r) => SESSION_LOCK_ROLES.includes(r));
  if (!lockRoles.length) return;
  const probe = await probeSessionPooling(url);
  if (probe.sessionKept) return;
  throw new SessionPoolingError(
    `DATABASE_URL reaches PostgreSQL through a pooler in transaction or statement mode: ${probe.detail}. ` +
      `Role ${lockRoles.join(', ')} holds session advisory locks, which such a pooler hands to other clients. ` +
      `Connect it to PostgreSQL directly or through a session-mode pool (pgbouncer: pool_mode = session).`,
  );
}

export class SessionPoolingError extends Error {
  override name = 'SessionPoolingError';
}
