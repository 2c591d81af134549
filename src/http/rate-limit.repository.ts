import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { DataSource } from 'typeorm';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * How often each API process deletes windows that ended (any replica's; the DELETE is
 * idempotent). Swept from calls, not a timer, so an idle or closed app runs nothing.
 */
export const RATE_LIMIT_SWEEP_MS = 60_000;

/**
 * @nestjs/throttler's storage in PostgreSQL, so a limit holds across API replicas: a fixed window
 * per key in the UNLOGGED table rate_limit_windows, counted by one atomic upsert per call. A call
 * is over the limit while its window's count is above it; the window's end is the Retry-After.
 * (The throttler's blockDuration is not used: a blocked key is free again when its window ends.)
 */
@Injectable()
export class RateLimitRepository implements ThrottlerStorage {
  private readonly logger = new Logger(RateLimitRepository.name);
  private lastSweep = Date.now();

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    if (Date.now() - this.lastSweep >= RATE_LIMIT_SWEEP_MS) {
      this.lastSweep = Date.now();
      void this.deleteExpired().catch((e: Error) => this.logger.warn(`rate-limit sweep failed: ${e.message}`));
    }
    // clock_timestamp(), not now(): every replica measures windows on the database's one clock.
    const [row]: { hits: string; ms_left: string }[] = await this.ds.query(
      `INSERT INTO rate_limit_windows AS w (key, hits, expires_at)
       VALUES ($1, 1, clock_timestamp() + $2 * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN w.expires_at <= clock_timestamp() THEN 1 ELSE w.hits + 1 END,
         expires_at = CASE WHEN w.expires_at <= clock_timestamp() THEN EXCLUDED.expires_at ELSE w.expires_at END
       RETURNING hits, ceil(extract(epoch FROM w.expires_at - clock_timestamp()) * 1000) AS ms_left`,
      [key, ttl],
    );
    const totalHits = Number(row.hits);
    const timeToExpire = Math.max(1, Math.ceil(Number(row.ms_left) / 1000));
    const isBlocked = totalHits > limit;
    return { totalHits, timeToExpire, isBlocked, timeToBlockExpire: isBlocked ? timeToExpire : 0 };
  }

  /** Deletes windows that ended more than a minute ago; returns how many. */
  async deleteExpired(): Promise<number> {
    const [row]: { n: string }[] = await this.ds.query(
      `WITH gone AS (DELETE FROM rate_limit_windows WHERE expires_at < clock_timestamp() - interval '1 minute' RETURNING 1)
       SELECT count(*) AS n FROM gone`,
    );
    return Number(row.n);
  }
}
