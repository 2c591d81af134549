import { createHash, randomBytes } from 'node:crypto';
import { useSuite } from '../support/fixture.js';
import { http, uniqueId } from '../support/harness.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const newSecret = () => `kdm_${randomBytes(32).toString('base64url')}`;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

// API keys over HTTP on the api role: authentication, the admin-only key endpoints, and the ADMIN_API_KEY bootstrap.
describe('API keys', () => {
  const suite = useSuite({ env: { ROLE: 'api' } });

  async function createKey(body: Record<string, unknown>) {
    const r = await http(suite.api, 'POST', '/v1/api-keys', { name: `k-${uniqueId()}`, ...body });
    expect(r.status).toBe(201);
    return r.body as { id: string; key: string; prefix: string; name: string; role: string; namespaces: string[] };
  }

  function expectUnauthenticated(r: { status: number; body: any; headers: Headers }) {
    expect({ status: r.status, code: r.body.code, challenge: r.headers.get('www-authenticate') }).toEqual({
      status: 401,
      code: 'AuthenticationRequired',
      challenge: 'Bearer',
    });
  }

  it('answers 401 with WWW-Authenticate: Bearer without a key, with a malformed one and with an unknown one', async () => {
    for (const authorization of ['', 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', `Bearer ${newSecret()}`]) {
      for (const [method, path] of [
        ['GET', '/v1/requests'],
        ['POST', '/v1/deployments'],
        ['GET', '/v1/api-keys'],
      ])
        expectUnauthenticated(
          await http(suite.api, method, path, method === 'POST' ? {} : undefined, { authorization }),
        );
    }
  });

  it('keeps /healthz, /readyz and /docs open, and serves /metrics only on HEALTH_PORT', async () => {
    for (const path of ['/healthz', '/readyz', '/docs', '/docs-json'])
      expect([path, (await http(suite.api, 'GET', path, undefined, { authorization: '' })).status]).toEqual([
        path,
        200,
      ]);
    expect((await http(suite.api, 'GET', '/metrics', undefined, { authorization: '' })).status).toBe(404);
    const metrics = await fetch(`${suite.app.healthUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('process_cpu_seconds_total');
    expect(suite.app.healthUrl).not.toBe(suite.api);
  });

  it('creates a key that is shown once (201) and then authenticates with its role', async () => {
    const created = await createKey({ role: 'reader', namespaces: ['team-a', 'shared-*'] });
    expect(created.key).toMatch(/^kdm_[A-Za-z0-9_-]{43}$/);
    expect(created.prefix).toBe(created.key.slice(0, 12));
    expect({ role: created.role, namespaces: created.namespaces }).toEqual({
      role: 'reader',
      namespaces: ['team-a', 'shared-*'],
    });

    expect((await http(suite.api, 'GET', '/v1/requests', undefined, bearer(created.key))).status).toBe(200);
    expect((await http(suite.api, 'GET', '/v1/deployments', undefined, bearer(created.key))).status).toBe(200);
    // Below the route's role: 403, not 401.
    for (const [method, path] of [
      ['POST', '/v1/requests/00000000-0000-0000-0000-000000000000/retry'],
      ['DELETE', '/v1/deployments/team-a/web'],
      ['GET', '/v1/dead-letters'],
      ['GET', '/v1/api-keys'],
      ['POST', '/v1/admin/reconcile'],
    ]) {
      const r = await http(suite.api, method, path, undefined, bearer(created.key));
      expect([method, path, r.status, r.body.code]).toEqual([method, path, 403, 'PermissionDenied']);
    }

    // The key is stored as its SHA-256 only, and its use is recorded.
    const row = (await suite.pool.query('SELECT * FROM api_keys WHERE id = $1', [created.id])).rows[0];
    expect(row.key_hash).toBe(sha256(created.key));
    expect(JSON.stringify(row)).not.toContain(created.key);
    expect(row.last_used_at).not.toBeNull();
  });

  it('an admin key always has scope *; a writer key needs namespaces', async () => {
    const admin = await createKey({ role: 'admin' });
    expect(admin.namespaces).toEqual(['*']);
    expect((await http(suite.api, 'GET', '/v1/api-keys', undefined, bearer(admin.key))).status).toBe(200);
  });

  it.each([
    [{ role: 'admin', namespaces: ['team-a'] }, 'an admin key always has scope *'],
    [{ role: 'writer' }, 'namespaces is required for a writer key'],
    [{ role: 'root', namespaces: ['*'] }, 'role must be one of reader, writer, admin'],
    [{ role: 'reader', namespaces: ['Team_A'] }, '"Team_A" is not a namespace name'],
    [{ role: 'reader', namespaces: [] }, 'namespaces must contain at least 1 elements'],
    [{ role: 'reader', namespaces: ['*'], expiresAt: '2001-01-01T00:00:00Z' }, 'expiresAt must be in the future'],
    [{ role: 'reader', namespaces: ['*'], expiresAt: 'tomorrow' }, 'expiresAt must be an ISO 8601 date-time'],
    [{ role: 'reader', namespaces: ['*'], name: '' }, 'name must be 1 to 100 printable ASCII characters'],
    [{ role: 'reader', namespaces: ['*'], keyHash: 'x' }, 'property keyHash should not exist'],
  ])('refuses %j with a 400 naming the problem', async (body, problem) => {
    const r = await http(suite.api, 'POST', '/v1/api-keys', { name: 'bad', ...body });
    expect(r.status).toBe(400);
    expect([r.body.message].flat().join('; ')).toContain(problem);
  });

  it('lists keys with a recognisable prefix, never their secrets or hashes', async () => {
    const created = await createKey({ role: 'writer', namespaces: ['team-b'] });
    const r = await http(suite.api, 'GET', '/v1/api-keys');
    expect(r.status).toBe(200);
    const item = r.body.items.find((k: { id: string }) => k.id === created.id);
    expect(item).toEqual({
      id: created.id,
      name: created.name,
      role: 'writer',
      namespaces: ['team-b'],
      prefix: created.key.slice(0, 12),
      createdAt: expect.any(String),
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
    });
    const text = JSON.stringify(r.body);
    expect(text).not.toContain(created.key);
    expect(text).not.toContain(sha256(created.key));
    expect(text).not.toContain(sha256(process.env.ADMIN_API_KEY!));
    expect(r.body.items.every((k: object) => !('key' in k) && !('keyHash' in k))).toBe(true);
  });

  it('revokes a key: it answers 401 at once, even though this API had it cached; revoking again keeps the first time', async () => {
    const created = await createKey({ role: 'writer', namespaces: ['*'] });
    expect((await http(suite.api, 'GET', '/v1/requests', undefined, bearer(created.key))).status).toBe(200);

    const revoked = await http(suite.api, 'DELETE', `/v1/api-keys/${created.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    expectUnauthenticated(await http(suite.api, 'GET', '/v1/requests', undefined, bearer(created.key)));

    const again = await http(suite.api, 'DELETE', `/v1/api-keys/${created.id}`);
    expect([again.status, again.body.revokedAt]).toEqual([200, revoked.body.revokedAt]);
    const listed = (await http(suite.api, 'GET', '/v1/api-keys')).body.items.find((k: any) => k.id === created.id);
    expect(listed.revokedAt).toBe(revoked.body.revokedAt);
  });

  it('answers 404 for an unknown key id and 400 for one that is not a UUID', async () => {
    const unknown = await http(suite.api, 'DELETE', '/v1/api-keys/00000000-0000-4000-8000-000000000000');
    expect([unknown.status, unknown.body.code]).toEqual([404, 'ApiKeyNotFound']);
    const bad = await http(suite.api, 'DELETE', '/v1/api-keys/nope');
    expect(bad.status).toBe(400);
    expect([bad.body.message].flat().join('; ')).toContain('id must be an API key id');
  });

  it('an expired key answers 401 with WWW-Authenticate', async () => {
    const created = await createKey({
      role: 'reader',
      namespaces: ['*'],
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    // Its expiry passes (never used, so no cache holds it).
    await suite.pool.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [created.id]);
    expectUnauthenticated(await http(suite.api, 'GET', '/v1/requests', undefined, bearer(created.key)));
  });

  it('ADMIN_API_KEY becomes one admin key across boots, and a revoked one stays revoked', async () => {
    const secret = newSecret();
    const rows = async () =>
      (
        await suite.pool.query('SELECT id, name, role, namespaces, revoked_at FROM api_keys WHERE key_hash = $1', [
          sha256(secret),
        ])
      ).rows;

    const first = await suite.extraApp({ ADMIN_API_KEY: secret });
    const second = await suite.extraApp({ ADMIN_API_KEY: secret });
    expect(await rows()).toEqual([
      { id: expect.any(String), name: 'ADMIN_API_KEY', role: 'admin', namespaces: ['*'], revoked_at: null },
    ]);
    expect((await http(first.apiUrl!, 'GET', '/v1/api-keys', undefined, bearer(secret))).status).toBe(200);
    expect((await http(second.apiUrl!, 'GET', '/v1/api-keys', undefined, bearer(secret))).status).toBe(200);

    const [{ id }] = await rows();
    expect((await http(suite.api, 'DELETE', `/v1/api-keys/${id}`)).status).toBe(200);
    const third = await suite.extraApp({ ADMIN_API_KEY: secret });
    const after = await rows();
    expect(after).toHaveLength(1);
    expect(after[0].revoked_at).not.toBeNull();
    expectUnauthenticated(await http(third.apiUrl!, 'GET', '/v1/api-keys', undefined, bearer(secret)));
  });
});
