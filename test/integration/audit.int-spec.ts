import { useSuite } from '../support/fixture.js';
import { http, uniqueId } from '../support/harness.js';

// The append-only audit trail: entries for answered and refused calls, written before the
// answer is sent (so each test reads its entry at once, never polling), the database refusing
// UPDATE, DELETE and TRUNCATE, and the admin-only purge.
describe('audit trail', () => {
  const ns = `au-${uniqueId()}`;
  const suite = useSuite({ env: { ROLE: 'api', MANAGED_NAMESPACES: `${ns},${ns}-*` } });

  const entries = async (where: string, params: unknown[]) =>
    (await suite.pool.query(`SELECT * FROM audit_log WHERE ${where} ORDER BY id`, params)).rows;
  const spec = (name: string, namespace = ns) => ({ namespace, name, image: 'nginx:1.27', replicas: 1 });

  it('records an accepted write before answering: action, route, target, status, requestId and source IP', async () => {
    const r = await http(suite.api, 'POST', '/v1/deployments', spec('web'));
    expect(r.status).toBe(202);
    const rows = await entries('request_id = $1', [r.body.requestId]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      method: 'POST',
      route: '/v1/deployments',
      action: 'deploymentWrites.create',
      namespace: ns,
      name: 'web',
      status_code: 202,
      error_code: null,
      source_ip: expect.stringMatching(/127\.0\.0\.1$/),
    });

    const del = await http(suite.api, 'DELETE', `/v1/deployments/${ns}/web`);
    expect(del.status).toBe(202);
    expect(await entries('request_id = $1', [del.body.requestId])).toEqual([
      expect.objectContaining({ route: '/v1/deployments/:namespace/:name', action: 'deploymentWrites.remove' }),
    ]);
  });

  it('records refused writes: 400 (validation and bad JSON) and 422 (Idempotency-Key reused)', async () => {
    const name = `bad-${uniqueId()}`;
    const invalid = await http(suite.api, 'POST', '/v1/deployments', { namespace: ns, name, replicas: 1 });
    expect(invalid.status).toBe(400);
    expect(await entries('name = $1', [name])).toEqual([
      expect.objectContaining({ status_code: 400, error_code: null, action: 'deploymentWrites.create', namespace: ns }),
    ]);

    const marker = `json-${uniqueId()}`;
    const badJson = await http(suite.api, 'PUT', `/v1/deployments/${ns}/${marker}`, '{"image": ');
    expect(badJson.status).toBe(400);
    expect(await entries('route = $1', [`/v1/deployments/${ns}/${marker}`])).toEqual([
      expect.objectContaining({
        method: 'PUT',
        status_code: 400,
        error_code: 'ValidationFailed',
        action: 'request.bodyRejected',
      }),
    ]);

    const key = `idem-${uniqueId()}`;
    const first = await http(suite.api, 'POST', '/v1/deployments', spec('idem'), { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const reused = await http(
      suite.api,
      'POST',
      '/v1/deployments',
      { ...spec('idem'), replicas: 2 },
      {
        'idempotency-key': key,
      },
    );
    expect(reused.status).toBe(422);
    const idem = await entries(`namespace = $1 AND name = 'idem'`, [ns]);
    expect(idem.map((e) => [e.status_code, e.error_code])).toEqual([
      [202, null],
      [422, 'IdempotencyKeyReused'],
    ]);
  });

  it('records reads of admin-only routes', async () => {
    const before = (await suite.pool.query('SELECT coalesce(max(id), 0) AS id FROM audit_log')).rows[0].id;
    expect((await http(suite.api, 'GET', '/v1/admin/reconcile-runs')).status).toBe(200);
    const mine = await entries(`id > $1 AND route LIKE '/v1/admin%'`, [before]);
    expect(mine.map((e) => [e.method, e.route, e.action, e.status_code])).toEqual([
      ['GET', '/v1/admin/reconcile-runs', 'reconcileAdmin.list', 200],
    ]);
  });

  it('records a 429 with the source address TRUST_PROXY gives, and no actor', async () => {
    const api = (await suite.extraApp({ RATE_LIMIT_ANONYMOUS_MAX: '1', RATE_LIMIT_MAX: '1', TRUST_PROXY: 'loopback' }))
      .apiUrl!;
    const ip = `10.${[1, 2, 3].map(() => Math.floor(Math.random() * 250) + 1).join('.')}`;
    const call = () =>
      http(api, 'POST', '/v1/deployments', spec('limited'), { authorization: '', 'x-forwarded-for': ip });
    expect((await call()).status).not.toBe(429);
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await entries('source_ip = $1 AND status_code = 429', [ip])).toEqual([
      expect.objectContaining({
        actor_key_id: null,
        actor_name: null,
        method: 'POST',
        route: '/v1/deployments',
        action: 'deploymentWrites.create',
        error_code: 'RateLimited',
      }),
    ]);
  });

  it('answers GET /v1/audit with filters and cursor pages, newest first', async () => {
    const other = `${ns}-b`;
    const r1 = await http(suite.api, 'POST', '/v1/deployments', spec('one', other));
    const r2 = await http(suite.api, 'POST', '/v1/deployments', spec('two', other));
    expect([r1.status, r2.status]).toEqual([202, 202]);
    const page1 = await http(suite.api, 'GET', `/v1/audit?namespace=${other}&action=deploymentWrites.create&limit=1`);
    expect(page1.status).toBe(200);
    expect(page1.body.items).toEqual([
      expect.objectContaining({ name: 'two', requestId: r2.body.requestId, statusCode: 202, method: 'POST' }),
    ]);
    const page2 = await http(
      suite.api,
      'GET',
      `/v1/audit?namespace=${other}&limit=1&cursor=${encodeURIComponent(page1.body.nextCursor)}`,
    );
    expect(page2.body.items.map((e: any) => e.name)).toEqual(['one']);
    const future = await http(suite.api, 'GET', `/v1/audit?namespace=${other}&since=2999-01-01T00:00:00Z`);
    expect(future.body).toEqual({ items: [], nextCursor: null });
    expect((await http(suite.api, 'GET', '/v1/audit?since=yesterday')).status).toBe(400);
    // Reading the audit trail is an admin call, so it is audited too.
    expect((await entries(`action = 'audit.list'`, [])).length).toBeGreaterThanOrEqual(3);
  });

  it('refuses UPDATE, DELETE and TRUNCATE of audit_log at the database', async () => {
    const r = await http(suite.api, 'POST', '/v1/deployments', spec('tamper'));
    const [row] = await entries('request_id = $1', [r.body.requestId]);
    await expect(suite.pool.query('UPDATE audit_log SET status_code = 200 WHERE id = $1', [row.id])).rejects.toThrow(
      /append-only: UPDATE/,
    );
    await expect(suite.pool.query('DELETE FROM audit_log WHERE id = $1', [row.id])).rejects.toThrow(
      /append-only: DELETE/,
    );
    await expect(suite.pool.query('TRUNCATE audit_log')).rejects.toThrow(/append-only: TRUNCATE/);
    // The purge's own marker lets no entry younger than a day go, whoever sets it.
    const c = await suite.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SELECT set_config('k8sdm.audit_purge_before', (now() + interval '1 day')::text, true)`);
      await expect(c.query('DELETE FROM audit_log WHERE id = $1', [row.id])).rejects.toThrow(/append-only: DELETE/);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
    expect(await entries('id = $1', [row.id])).toEqual([expect.objectContaining({ status_code: 202 })]);
  });

  it('purges entries older than the given days through the admin endpoint, and audits the purge', async () => {
    const marker = `old-${uniqueId()}`;
    // Other suites share the database (and purge too): look only at entries written from here on.
    const [{ max: before }] = (await suite.pool.query(`SELECT coalesce(max(id), 0) AS max FROM audit_log`)).rows;
    // Entries from 40 and 20 days ago (INSERT may set `at`; only UPDATE and DELETE are refused).
    for (const days of [40, 20])
      await suite.pool.query(
        `INSERT INTO audit_log (at, method, route, action, status_code, name)
         VALUES (now() - make_interval(days => $1), 'POST', '/v1/deployments', 'deploymentWrites.create', 202, $2)`,
        [days, marker],
      );
    expect((await http(suite.api, 'POST', '/v1/audit/purge', { olderThanDays: 0 })).status).toBe(400);

    const purge = await http(suite.api, 'POST', '/v1/audit/purge', { olderThanDays: 30 });
    expect(purge.status).toBe(200);
    expect(purge.body.deleted).toBeGreaterThanOrEqual(1);
    expect((await entries('name = $1', [marker])).map((e) => Math.round((Date.now() - e.at) / 86_400_000))).toEqual([
      20,
    ]);
    const [audited] = await entries(`action = 'audit.purge' AND status_code = 200 AND id > $1`, [before]);
    expect(audited).toMatchObject({
      method: 'POST',
      route: '/v1/audit/purge',
      details: { olderThanDays: 30, deleted: purge.body.deleted, before: purge.body.before },
    });
    expect(await entries(`action = 'audit.purge' AND status_code = 400 AND id > $1`, [before])).toHaveLength(1);
  });

  // These need the auth branch (i10-auth): AuthenticationGuard sets req.principal and
  // AuthorizationGuard answers 401/403. They fail on this branch alone.
  describe('with API keys', () => {
    it("records the caller's key id and name", async () => {
      const r = await http(suite.api, 'POST', '/v1/deployments', spec('keyed'));
      const [row] = await entries('request_id = $1', [r.body.requestId]);
      expect(row.actor_name).toBe('ADMIN_API_KEY');
      expect(row.actor_key_id).toEqual(expect.any(String));
    });

    it('does not record answered reads of routes below admin (GET /v1/requests is @Access reader)', async () => {
      const before = (await suite.pool.query('SELECT coalesce(max(id), 0) AS id FROM audit_log')).rows[0].id;
      expect((await http(suite.api, 'GET', `/v1/requests?namespace=${ns}`)).status).toBe(200);
      expect((await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}`)).status).toBe(200);
      expect(
        await entries(`id > $1 AND (route LIKE '/v1/requests%' OR route LIKE '/v1/deployments%')`, [before]),
      ).toEqual([]);
    });

    it('records a 401 on a read (no key) and on a write (unknown key)', async () => {
      const marker = `anon-${uniqueId()}`;
      const before = (await suite.pool.query('SELECT coalesce(max(id), 0) AS id FROM audit_log')).rows[0].id;
      const read = await http(suite.api, 'GET', `/v1/requests?name=${marker}`, undefined, { authorization: '' });
      expect(read.status).toBe(401);
      const write = await http(suite.api, 'POST', '/v1/deployments', spec(marker), {
        authorization: `Bearer kdm_${'A'.repeat(43)}`,
      });
      expect(write.status).toBe(401);
      const rows = await entries(`status_code = 401 AND id > $1 AND (name = $2 OR route = '/v1/requests')`, [
        before,
        marker,
      ]);
      expect(rows.map((e) => [e.method, e.actor_key_id, e.error_code])).toEqual([
        ['GET', null, 'AuthenticationRequired'],
        ['POST', null, 'AuthenticationRequired'],
      ]);
    });

    it('records a 403 for a reader that tries to write', async () => {
      const created = await http(suite.api, 'POST', '/v1/api-keys', {
        name: `reader-${uniqueId()}`,
        role: 'reader',
        namespaces: [ns],
      });
      expect(created.status).toBe(201);
      const name = `denied-${uniqueId()}`;
      const denied = await http(suite.api, 'POST', '/v1/deployments', spec(name), {
        authorization: `Bearer ${created.body.key}`,
      });
      expect(denied.status).toBe(403);
      expect(await entries('name = $1', [name])).toEqual([
        expect.objectContaining({
          status_code: 403,
          error_code: 'PermissionDenied',
          actor_key_id: created.body.id,
          actor_name: created.body.name,
        }),
      ]);
    });
  });
});
