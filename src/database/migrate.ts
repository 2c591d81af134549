import { DataSource } from 'typeorm';
import { withAdvisoryLock } from './advisory-lock.js';
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
  try {
    return await withAdvisoryLock(ds, MIGRATION_LOCK_KEY, async () => {
      const applied = await ds.runMigrations({ transaction: 'each' });
      for (const m of applied) log(`applied migration ${m.name}`);
      if (applied.length === 0) log('schema is up to date');
      return applied.map((m) => m.name);
    });
  } finally {
    await ds.destroy();
  }
}
