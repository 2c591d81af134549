import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rate-limit counters shared by every API replica: one row per key (API key id or ip:<address>)
 * holding the current fixed window. UNLOGGED: no WAL per counted call, and a crash that loses
 * the counters only resets them (and a replica does not receive them).
 */
export class RateLimitWindows1764400310000 implements MigrationInterface {
  name = 'RateLimitWindows1764400310000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE UNLOGGED TABLE rate_limit_windows (
        key         text PRIMARY KEY,
        hits        bigint NOT NULL,
        expires_at  timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX rate_limit_windows_expires ON rate_limit_windows (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rate_limit_windows`);
  }
}
