import 'reflect-metadata';
import { ConfigError, loadDatabaseUrl } from './config/app-config.js';
import { runMigrations } from './database/migrate.js';

/** `npm run migration:run`: applies pending migrations and exits. */
async function main() {
  await runMigrations(loadDatabaseUrl(), (line) => console.log(`[migrate] ${line}`));
}

main().catch((e: unknown) => {
  console.error(e instanceof ConfigError ? e.message : e);
  process.exit(1);
});
