import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options.js';

// Arbitrary but fixed: every process that migrates this database takes the same lock.
const MIGRATION_LOCK_KEY = 0x6b38_646d;

/**
 * Applies pending migrations under a PostgreSQL advisory lock, so several processes
 * starting at once migrate exactly once and the others wait, then find nothing to do.
 */
export async function runMigrations(databaseUrl: string, log: (line: string) => void = () => {}): Promise<string[]> {
  const ds = new DataSource(dataSourceOptions(databaseUrl, 2, 'dm-migrate'));
  await ds.initialize();
  const lock = ds.createQueryRunner();
  try {
    await lock.connect();
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await ds.runMigrations({ transaction: 'each' });
      for (const m of applied) log(`applied migration ${m.name}`);
      if (applied.length === 0) log('schema is up to date');
      return applied.map((m) => m.name);
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await lock.release();
    await ds.destroy();
  }
}
