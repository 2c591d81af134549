import 'reflect-metadata';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DataSource } from 'typeorm';
import { ConfigError, loadDatabaseUrl } from './config/app-config.js';
import { dataSourceOptions } from './database/data-source-options.js';
import { DomainError } from './domain/domain-error.js';
import { API_ROLES, type ApiRole } from './domain/principal.js';
import { ApiKeyEntity } from './auth/api-key.entity.js';
import { toApiKeyDto } from './auth/api-key.dto.js';
import { generateApiKeySecret } from './auth/api-key-secret.js';
import { ApiKeysRepository } from './auth/api-keys.repository.js';
import { ApiKeysService } from './auth/api-keys.service.js';

/**
 * `npm run keys -- <command>`: API keys for first use and for operators, straight in
 * PostgreSQL (DATABASE_URL), through the same service and repository as the API.
 * A running API notices a revoke within API_KEY_CACHE_MS.
 */

/** A refusal worth one line, not a stack trace. */
class UsageError extends Error {}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function duration(value: string): number {
  const m = /^(\d{1,6})([mhdw])$/.exec(value);
  if (!m || Number(m[1]) === 0) throw new InvalidArgumentError('use a positive number and a unit: 30m, 12h, 30d or 4w');
  return Number(m[1]) * UNITS[m[2]];
}

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

async function withKeys<T>(fn: (keys: ApiKeysService) => Promise<T>): Promise<T> {
  const ds = new DataSource({ ...dataSourceOptions(loadDatabaseUrl(), 1, 'dm-keys'), entities: [ApiKeyEntity] });
  await ds.initialize();
  try {
    return await fn(new ApiKeysService(new ApiKeysRepository(ds.getRepository(ApiKeyEntity)), { cacheMs: 0 }));
  } finally {
    await ds.destroy();
  }
}

function status(k: ApiKeyEntity, now = Date.now()): string {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && k.expiresAt.getTime() <= now) return 'expired';
  return 'active';
}

const when = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') : '-');

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const program = new Command('keys').description('Manage API keys in the database at DATABASE_URL').showHelpAfterError();

program
  .command('create')
  .description('Create a key; prints the key alone on stdout (shown only this once), the rest on stderr')
  .requiredOption('--name <name>', 'who or what uses it (1 to 100 printable ASCII characters)')
  .addOption(new Option('--role <role>', 'what it may do').choices(API_ROLES).makeOptionMandatory())
  .option(
    '--namespaces <list>',
    'comma-separated names and prefix* patterns, or * (required for reader and writer)',
    list,
  )
  .option('--expires-in <duration>', 'expire after 30m, 12h, 30d, 4w; default never', duration)
  .option('--json', 'print the key record with the key as JSON instead')
  .action(async (o: { name: string; role: ApiRole; namespaces?: string[]; expiresIn?: number; json?: boolean }) => {
    const { key, secret } = await withKeys((keys) =>
      keys.create({
        name: o.name,
        role: o.role,
        namespaces: o.namespaces,
        expiresAt: o.expiresIn === undefined ? undefined : new Date(Date.now() + o.expiresIn),
      }),
    );
    if (o.json) {
      console.log(JSON.stringify({ ...toApiKeyDto(key), key: secret }));
      return;
    }
    console.error(
      `Created API key ${key.id} "${key.name}": ${key.role}, namespaces ${key.namespaces.join(',')}, ` +
        `expires ${key.expiresAt ? key.expiresAt.toISOString() : 'never'}. The key is shown only this once: store it now.`,
    );
    console.log(secret);
  });

program
  .command('list')
  .description('List keys, newest first (never their secrets)')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const rows = await withKeys((keys) => keys.list());
    if (o.json) {
      console.log(JSON.stringify(rows.map((k) => ({ ...toApiKeyDto(k), status: status(k) }))));
      return;
    }
    if (rows.length === 0) {
      console.error('no API keys');
      return;
    }
    const header = ['ID', 'NAME', 'ROLE', 'NAMESPACES', 'PREFIX', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'];
    const lines = rows.map((k) => [
      k.id,
      k.name,
      k.role,
      k.namespaces.join(','),
      k.keyPrefix,
      status(k),
      when(k.createdAt),
      when(k.expiresAt),
      when(k.lastUsedAt),
    ]);
    console.log(table([header, ...lines]));
  });

program
  .command('revoke')
  .description('Revoke a key by id: calls with it answer 401 (a running API within API_KEY_CACHE_MS)')
  .argument('<id>', 'the key id, as list shows it')
  .action(async (id: string) => {
    if (!UUID.test(id)) throw new UsageError(`${id} is not an API key id (a UUID; see keys list)`);
    const key = await withKeys((keys) => keys.revoke(id));
    console.log(`revoked ${key.id} "${key.name}" at ${key.revokedAt!.toISOString()}`);
  });

program
  .command('generate')
  .description('Print a new random key without storing it: a value for ADMIN_API_KEY')
  .action(() => console.log(generateApiKeySecret()));

program.parseAsync(process.argv).catch((e: unknown) => {
  const code = (e as { code?: string }).code;
  if (e instanceof DomainError || e instanceof UsageError || e instanceof ConfigError)
    console.error(`keys: ${e.message}`);
  else if (code === '42P01') console.error('keys: the api_keys table is missing: run `npm run migration:run` first');
  else console.error(e);
  process.exit(1);
});
