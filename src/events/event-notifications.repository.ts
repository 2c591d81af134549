import { Injectable, Logger } from '@nestjs/common';
import pg from 'pg';
import { AppConfig } from '../config/app-config.js';

/** Where the events triggers NOTIFY (on commit, once per transaction). */
export const EVENTS_CHANNEL = 'dm_events';

/**
 * The API process's one LISTEN session: a connection of its own, outside TypeORM's pool (a
 * listening session must stay the same session, and must not hold a pool slot that queries
 * need). It only wakes the event hub; the rows are read from the table through the pool. When
 * the session is lost it reconnects with a backoff, and wakes the hub once connected, since
 * notifications sent meanwhile are gone. Behind a transaction pooler LISTEN hears nothing;
 * the hub's EVENT_POLL_MS poll carries on alone.
 */
@Injectable()
export class EventNotificationsRepository {
  private readonly logger = new Logger(EventNotificationsRepository.name);
  private client?: pg.Client;
  private stopped = false;
  private retry?: NodeJS.Timeout;
  private failures = 0;

  constructor(private readonly config: AppConfig) {}

  /** Starts listening; onWake runs on every notification and after every (re)connect. */
  listen(onWake: () => void): void {
    if (!this.stopped) void this.connect(onWake);
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => undefined);
  }

  private async connect(onWake: () => void): Promise<void> {
    const c = new pg.Client({
      connectionString: this.config.DATABASE_URL,
      application_name: 'dm-api-events',
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
    });
    let lost = false;
    const onLost = (why: string) => {
      if (lost) return;
      lost = true;
      if (this.client === c) this.client = undefined;
      void c.end().catch(() => undefined);
      if (this.stopped) return;
      this.failures++;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6));
      this.logger.warn(`event notifications session lost (${why}); reconnecting in ${delay} ms`);
      this.retry = setTimeout(() => void this.connect(onWake), delay);
    };
    c.on('error', (e) => onLost(e.message));
    c.on('end', () => onLost('closed'));
    c.on('notification', (n) => {
      if (n.channel === EVENTS_CHANNEL) onWake();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (e) {
      onLost((e as Error).message);
      return;
    }
    if (this.stopped) {
      await c.end().catch(() => undefined);
      return;
    }
    this.client = c;
    this.failures = 0;
    onWake();
  }
}
