import { spawn } from 'node:child_process';
import type { Running } from '../../src/bootstrap.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { boot, dropTopology, eventually, http, testConfig, uniqueId } from '../support/harness.js';

const CLI = 'dist/src/keys.main.js';

/** Runs the built CLI as operators do (`npm run keys -- ...`), against the suite's database. */
function keys(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, DATABASE_URL: process.env.TEST_DATABASE_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('the keys CLI', () => {
  let config: AppConfig;
  let app: Running;
  const name = `cli-${uniqueId()}`;
  let key = '';
  let id = '';

  beforeAll(async () => {
    config = testConfig({ ROLE: 'api' });
    app = await boot(config);
  });

  afterAll(async () => {
    await app?.close();
    await dropTopology(config);
  });

  it('create prints the key once, alone on stdout, and the key then authenticates with its role', async () => {
    const r = await keys('create', '--name', name, '--role', 'writer', '--namespaces', 'team-a,team-b-*');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^kdm_[A-Za-z0-9_-]{43}\n$/);
    key = r.stdout.trim();
    expect(r.stderr).toContain('shown only this once');
    expect(r.stderr).not.toContain(key);
    id = /API key ([0-9a-f-]{36})/.exec(r.stderr)![1];

    expect((await http(app.apiUrl!, 'GET', '/v1/requests', undefined, bearer(key))).status).toBe(200);
    const adminOnly = await http(app.apiUrl!, 'GET', '/v1/api-keys', undefined, bearer(key));
    expect([adminOnly.status, adminOnly.body.code]).toEqual([403, 'PermissionDenied']);
  });

  it('list shows the key by id, name, role, scope and prefix, never its secret', async () => {
    const r = await keys('list');
    expect(r.status).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith(id))!;
    expect(line.split(/\s{2,}/).slice(0, 6)).toEqual([
      id,
      name,
      'writer',
      'team-a,team-b-*',
      key.slice(0, 12),
      'active',
    ]);
    expect(r.stdout).not.toContain(key);

    const json = await keys('list', '--json');
    const item = (JSON.parse(json.stdout) as Record<string, unknown>[]).find((k) => k.id === id);
    expect(item).toMatchObject({ name, role: 'writer', prefix: key.slice(0, 12), status: 'active' });
    expect(json.stdout).not.toContain(key);
  });

  it('revoke makes the key answer 401 (a running API within API_KEY_CACHE_MS)', async () => {
    const r = await keys('revoke', id);
    expect([r.status, r.stdout]).toEqual([0, expect.stringContaining(`revoked ${id}`)]);
    const refused = await eventually(async () => {
      const res = await http(app.apiUrl!, 'GET', '/v1/requests', undefined, bearer(key));
      return res.status === 401 ? res : undefined;
    });
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect((await keys('list')).stdout.split('\n').find((l) => l.startsWith(id))).toContain('revoked');
  });

  it('refuses bad input in one line with status 1, naming the problem', async () => {
    const admin = await keys('create', '--name', 'x', '--role', 'admin', '--namespaces', 'team-a');
    expect([admin.status, admin.stdout, admin.stderr.trim()]).toEqual([
      1,
      '',
      'keys: namespaces: an admin key always has scope * (every namespace); leave namespaces out or send ["*"]',
    ]);
    const unknown = await keys('revoke', '00000000-0000-4000-8000-000000000000');
    expect([unknown.status, unknown.stderr.trim()]).toEqual([
      1,
      'keys: no API key 00000000-0000-4000-8000-000000000000',
    ]);
  });

  it('generate prints a new key without storing it (a value for ADMIN_API_KEY)', async () => {
    const r = await keys('generate');
    expect(r.status).toBe(0);
    const generated = r.stdout.trim();
    expect(generated).toMatch(/^kdm_[A-Za-z0-9_-]{43}$/);
    expect((await http(app.apiUrl!, 'GET', '/v1/requests', undefined, bearer(generated))).status).toBe(401);
  });
});
