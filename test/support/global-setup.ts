import pg from 'pg';
import { runMigrations } from '../../src/database/migrate.js';

/**
 * Runs once before the integration and e2e suites: a fresh database on the stack's
 * PostgreSQL, migrated by the real migrations. The suites need the stack running:
 * `make test` brings it up and exports DATABASE_URL, NATS_URL and KUBECONFIG.
 */
export default async function globalSetup() {
  for (const v of ['DATABASE_URL', 'NATS_URL', 'KUBECONFIG']) {
    if (!process.env[v]) throw new Error(`${v} is not set: run the suites through 'make test' (or eval "$(make -s stack-env)")`);
  }
  const testUrl = databaseUrlFor(process.env.DATABASE_URL!, 'k8sdm_test');
  await recreateDatabase(process.env.DATABASE_URL!, 'k8sdm_test');
  await runMigrations(testUrl);
  process.env.TEST_DATABASE_URL = testUrl;
}

export function databaseUrlFor(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function recreateDatabase(url: string, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
}
