import { MIGRATIONS } from '../../migrations/index.js';
import { runMigrations } from '../../src/database/migrate.js';
import { checkoutDatabase, databaseUrlFor, recreateDatabase } from '../support/database.mjs';
import { db } from '../support/harness.js';

describe('migrations', () => {
  const database = checkoutDatabase('k8sdm_migrations_test');
  const url = databaseUrlFor(process.env.DATABASE_URL!, database);

  beforeAll(() => recreateDatabase(process.env.DATABASE_URL!, database));

  it('apply to an empty database, concurrently and safely, and are re-runnable', async () => {
    // Two processes starting at once: the advisory lock lets exactly one apply each migration.
    const [a, b] = await Promise.all([runMigrations(url), runMigrations(url)]);
    expect([...a, ...b]).toEqual(MIGRATIONS.map((m) => m.name));
    expect(a.length + b.length).toBeGreaterThan(0);

    expect(await runMigrations(url)).toEqual([]);

    const pool = db(url);
    try {
      const tables = await pool.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining(['deployment_requests', 'deployments', 'schema_migrations']),
      );
      const applied = await pool.query('SELECT count(*)::int AS n FROM schema_migrations');
      expect(applied.rows[0].n).toBe(a.length + b.length);
    } finally {
      await pool.end();
    }
  });
});
