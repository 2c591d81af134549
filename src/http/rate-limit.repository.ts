import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { DataSource } from 'typeorm';
import { GroupCommit } from '../database/group-commit.js';

interface Hit {
  key: string;
  /** The window's length in ms. */
  ttl: number;
}

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

  /** Concurrent calls' counts share one upsert (see GroupCommit): 32 calls of one key need not queue on its row lock. */
  private readonly hits = new GroupCommit<Hit, { hits: number; msLeft: number }>((batch) => this.countMany(batch));

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    if (Date.now() - this.lastSweep >= RATE_LIMIT_SWEEP_MS) {
      this.lastSweep = Date.now();
      void this.deleteExpired().catch((e: Error) => this.logger.warn(`rate-limit sweep failed: ${e.message}`));
    }
    const { hits: totalHits, msLeft } = await this.hits.submit({ key, ttl });
    const timeToExpire = Math.max(1, Math.ceil(msLeft / 1000));
    const isBlocked = totalHits > limit;
    return { totalHits, timeToExpire, isBlocked, timeToBlockExpire: isBlocked ? timeToExpire : 0 };
  }

  /**
   * Counts many calls in one atomic upsert, one row per key: a key's calls are added together,
   * and each call gets the count it would have got alone, in the batch's order (the n-th of a
   * key's k calls sees total - k + n). A key's window length (its ttl) is the first call's: the
   * key names its throttler, so all its calls carry the same one.
   */
  async countMany(batch: Hit[]): Promise<{ hits: number; msLeft: number }[]> {
    const perKey = new Map<string, { ttl: number; calls: number }>();
    const nth = batch.map(({ key, ttl }) => {
      const k = perKey.get(key) ?? perKey.set(key, { ttl, calls: 0 }).get(key)!;
      return ++k.calls;
    });
    // clock_timestamp(), not now(): every replica measures windows on the database's one clock.
    const rows: { key: string; hits: string; ms_left: string }[] = await this.ds.query(
      `INSERT INTO rate_limit_windows AS w (key, hits, expires_at)
       SELECT k, n, clock_timestamp() + t * interval '1 millisecond'
       FROM unnest($1::text[], $2::bigint[], $3::float8[]) AS c(k, n, t)
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN w.expires_at <= clock_timestamp() THEN EXCLUDED.hits ELSE w.hits + EXCLUDED.hits END,
         expires_at = CASE WHEN w.expires_at <= clock_timestamp() THEN EXCLUDED.expires_at ELSE w.expires_at END
       RETURNING key, hits, ceil(extract(epoch FROM w.expires_at - clock_timestamp()) * 1000) AS ms_left`,
      [[...perKey.keys()], [...perKey.values()].map((k) => k.calls), [...perKey.values()].map((k) => k.ttl)],
    );
    const byKey = new Map(rows.map((r) => [r.key, r]));
    return batch.map(({ key }, i) => {
      const row = byKey.get(key)!;
      return { hits: Number(row.hits) - perKey.get(key)!.calls + nth[i], msLeft: Number(row.ms_left) };
    });
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
