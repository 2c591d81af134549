import { Injectable, Logger } from '@nestjs/common';
import pg from 'pg';
import { AppConfig } from '../config/app-config.js';
import { advisoryUnlock, holdsAdvisoryLock, type SessionQuery, tryAdvisoryLock } from '../database/advisory-lock.js';

/**
 * A PostgreSQL session advisory lock on a connection of its own (not the pool's: the
 * lock lives exactly as long as this session). If the holder dies its connection closes
 * and PostgreSQL releases the lock at once; if its host vanishes, the server-side TCP
 * keepalives below notice within about 15 s. Unlike the other locks it is held across
 * calls (for as long as we lead), so it keeps this dedicated session rather than the
 * advisory-lock helper's run-and-release; it shares the helper's key and lock primitives.
 */
/** Where a leader that steps down announces it, so standbys try the lock at once instead of at their next poll. */
const RELEASED_CHANNEL = 'dm_watcher_leader_released';

@Injectable()
export class LeaderLockRepository {
  private readonly logger = new Logger(LeaderLockRepository.name);
  private client?: pg.Client;
  private connecting?: Promise<pg.Client>;
  private onRelease?: (name: string) => void;

  constructor(private readonly config: AppConfig) {}

  /** True when this session now holds the lock (or already did). */
  async tryAcquire(name: string): Promise<boolean> {
    return tryAdvisoryLock(onClient(await this.connection()), name);
  }

  /** Whether this session still holds the lock; throws when the session itself is gone. */
  async holds(name: string): Promise<boolean> {
    if (!this.client) return false;
    return holdsAdvisoryLock(onClient(this.client), name);
  }

  /** Calls handler with the lock's name whenever a holder releases a lock on purpose (see release). */
  listenForReleases(handler: (name: string) => void) {
    this.onRelease = handler;
  }

  /**
   * Gives the lock up on purpose and tells the standbys (they listen on their own lock
   * sessions), then closes the session. Best effort: closing alone also frees the lock.
   */
  async release(name: string): Promise<void> {
    const c = this.client;
    if (c) {
      try {
        await advisoryUnlock(onClient(c), name);
        await c.query('SELECT pg_notify($1, $2)', [RELEASED_CHANNEL, name]);
      } catch (e) {
        this.logger.warn(`could not announce the release of ${name}: ${(e as Error).message}`);
      }
    }
    await this.close();
  }

  /** Closing the session releases the lock. */
  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => undefined);
  }

  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const timeout = Math.max(2000, this.config.LEADER_POLL_MS * 2);
    const c = new pg.Client({
      connectionString: this.config.DATABASE_URL,
      application_name: 'dm-watcher-leader',
      connectionTimeoutMillis: 5000,
      // A poll that hangs means the session is as good as lost.
      query_timeout: timeout,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
    });
    c.on('error', (e) => {
      this.logger.warn(`leader lock connection failed: ${e.message}`);
      if (this.client === c) this.client = undefined;
    });
    c.on('end', () => {
      if (this.client === c) this.client = undefined;
    });
    await c.connect();
    try {
      // Server side: a holder whose host disappears (no FIN) loses the lock in ~5 + 3×2 s.
      await c.query(`SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3;
                     SET tcp_user_timeout = 10000`);
      c.on('notification', (n) => {
        if (n.channel === RELEASED_CHANNEL && n.payload) this.onRelease?.(n.payload);
      });
      await c.query(`LISTEN ${RELEASED_CHANNEL}`);
    } catch (e) {
      await c.end().catch(() => undefined);
      throw e;
    }
    this.client = c;
    return c;
  }
}

const onClient =
  (c: pg.Client): SessionQuery =>
  async (sql, params) =>
    (await c.query(sql, params)).rows;
