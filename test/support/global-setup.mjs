// Runs once before the integration and e2e suites: a fresh database on the stack's
// PostgreSQL, migrated by the real migrations. Plain ESM importing the build, because
// jest loads global setup outside its module mapper; `make test` builds first.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { checkoutDatabase, databaseUrlFor, recreateDatabase } from './database.mjs';

export default async function globalSetup() {
  for (const v of ['DATABASE_URL', 'NATS_URL', 'KUBECONFIG']) {
    if (!process.env[v])
      throw new Error(`${v} is not set: run the suites through 'make test' (or eval "$(make -s stack-env)")`);
  }
  const migrate = new URL('../../dist/src/database/migrate.js', import.meta.url);
  if (!existsSync(migrate)) throw new Error('dist/ is missing: run `npm run build` (make test does)');
  const { runMigrations } = await import(migrate.href);
  const database = checkoutDatabase('k8sdm_test');
  const testUrl = databaseUrlFor(process.env.DATABASE_URL, database);
  await recreateDatabase(process.env.DATABASE_URL, database);
  await runMigrations(testUrl);
  process.env.TEST_DATABASE_URL = testUrl;
  // Every suite's apps accept this admin key (and child processes inherit it); tests of
  // authorization itself make their own keys.
  process.env.ADMIN_API_KEY ??= `kdm_${randomBytes(32).toString('base64url')}`;
  // That one key drives every suite, polling hard (40 requests settled at once is 400 calls/s):
  // far past the production default. The rate-limit and audit suites set their own limits.
  process.env.RATE_LIMIT_MAX ??= '1000000000';
  // Likewise every suite's calls without a valid key come from 127.0.0.1, and the counters are
  // shared through the one test database: suites would spend each other's per-address limit.
  process.env.RATE_LIMIT_ANONYMOUS_MAX ??= '1000000000';
}
