import { randomBytes, randomUUID } from 'node:crypto';

import { DeploymentsRepository } from '../../src/deployments/deployments.repository.js';
import type { MirrorRow } from '../../src/deployments/mirror-row.mapper.js';
import { mirrorRow } from '../support/mirror-row.js';
import { useSuite } from '../support/fixture.js';
import { adminAuth, http, uniqueId } from '../support/harness.js';

// Who may do what, route by route: every endpoint group called with no key, bad keys and each
// role, inside and outside the key's namespace scope. One API app (and an idle reconciler, so
// the admin trigger has someone to answer); no worker, so nothing reaches Kubernetes: the
// mirror rows the reads need are written through the repository, the FAILURE requests that
// retries need are marked so in PostgreSQL.
describe('authorization matrix (role x scope)', () => {
  const id = uniqueId();
  /** In the reader's and the writers' scope. */
  const nsA = `mx-${id}-a`;
  /** Managed too, but in no key's scope but the admin's. */
  const nsB = `mx-${id}-b`;
  /** In the writer's scope but not in MANAGED_NAMESPACES: a key's scope never widens it. */
  const unmanaged = `mxu-${id}`;
  const suite = useSuite({ env: { ROLE: 'api', MANAGED_NAMESPACES: `mx-${id}-*` } });

  /** Bearer headers of each caller; filled in beforeAll. */
  const auth: Record<Caller, Record<string, string>> = {} as never;
  /** A request (by the admin) in each namespace, for the single reads. */
  const requestIn: Record<string, string> = {};
  let reconcileRunId: number;

  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const as = (who: Caller, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    http(suite.api, method, path, body, { ...auth[who], ...headers });

  /** Creates a key through the API as the admin; returns its id and secret. */
  async function createKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
    const r = await http(suite.api, 'POST', '/v1/api-keys', body);
    if (r.status !== 201)
      throw new Error(`POST /v1/api-keys ${JSON.stringify(body)}: ${r.status} ${JSON.stringify(r.body)}`);
    return { id: r.body.id, key: r.body.key };
  }

  const createBody = (ns: string, name: string) => ({ namespace: ns, name, image: 'nginx:1.27', replicas: 1 });

  /** A request the admin sends, then marked FAILURE (dead-lettered) in PostgreSQL: something to retry. */
  async function failedRequest(ns: string): Promise<string> {
    const r = await http(suite.api, 'POST', '/v1/deployments', createBody(ns, `failed-${uniqueId()}`));
    expect(r.status).toBe(202);
    await suite.pool.query(
      `UPDATE deployment_requests SET status = 'FAILURE', error_code = 'Invalid', error_message = 'test',
         dead_lettered = true, completed_at = now() WHERE request_id = $1`,
      [r.body.requestId],
    );
    return r.body.requestId;
  }

  const managedRow = (namespace: string, name: string): MirrorRow =>
    mirrorRow(namespace, name, { labels: { 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' } });

  beforeAll(async () => {
    // A reconciler on the suite's control subject, over a namespace holding nothing.
    await suite.extraApp({ ROLE: 'reconciler', MANAGED_NAMESPACES: `mx-${id}-idle`, RECONCILE_CRON: '0 0 1 1 *' });

    const reader = await createKey({ name: `reader-${id}`, role: 'reader', namespaces: [nsA] });
    const writer = await createKey({ name: `writer-${id}`, role: 'writer', namespaces: [`${nsA}*`, unmanaged] });
    const revoked = await createKey({ name: `revoked-${id}`, role: 'writer', namespaces: [nsA] });
    const expired = await createKey({ name: `expired-${id}`, role: 'writer', namespaces: [nsA] });
    // Expired before its first use (the API refuses to create a key that has already expired).
    await suite.pool.query(`UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1`, [expired.id]);
    // Used (and so cached) before it is revoked: the revoke must still take effect at once.
    expect((await http(suite.api, 'GET', '/v1/requests?limit=1', undefined, bearer(revoked.key))).status).toBe(200);
    expect((await http(suite.api, 'DELETE', `/v1/api-keys/${revoked.id}`)).status).toBeLessThan(300);

    Object.assign(auth, {
      none: { authorization: '' },
      malformed: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
      unknown: bearer(`kdm_${randomBytes(32).toString('base64url')}`),
      revoked: bearer(revoked.key),
      expired: bearer(expired.key),
      reader: bearer(reader.key),
      readerOut: bearer(reader.key),
      writerIn: bearer(writer.key),
      writerOut: bearer(writer.key),
      admin: adminAuth(),
    });

    const repo = suite.app.app.get(DeploymentsRepository, { strict: false });
    await repo.upsertMany([managedRow(nsA, 'seen'), managedRow(nsB, 'seen')]);
    for (const ns of [nsA, nsB]) {
      const r = await http(suite.api, 'POST', '/v1/deployments', createBody(ns, 'requested'));
      expect(r.status).toBe(202);
      requestIn[ns] = r.body.requestId;
    }
    const trigger = await http(suite.api, 'POST', '/v1/admin/reconcile');
    expect(trigger.status).toBe(202);
    reconcileRunId = trigger.body.runId;
  });

  // --- the matrix -------------------------------------------------------------------------

  /** Callers: five that are not authenticated, then each role inside its scope and (where a route has a namespace) outside it. */
  type Caller =
    | 'none'
    | 'malformed'
    | 'unknown'
    | 'revoked'
    | 'expired'
    | 'reader'
    | 'readerOut'
    | 'writerIn'
    | 'writerOut'
    | 'admin';
  const UNAUTHENTICATED: Caller[] = ['none', 'malformed', 'unknown', 'revoked', 'expired'];
  /** Where each caller aims: inside the reader's and writer's scope, or outside it. */
  const targetOf = (who: Caller) => (['readerOut', 'writerOut', 'admin'].includes(who) ? nsB : nsA);

  interface Route {
    group: string;
    route: string;
    /** The call aimed at a namespace (routes without one ignore it). */
    call(ns: string): Promise<{ method: string; path: string; body?: unknown }>;
    /** Status for each authenticated caller. */
    expect: Partial<Record<Caller, number>>;
  }

  /** A route only the admin may call. */
  const adminOnly = (status: number) => ({
    reader: 403,
    readerOut: 403,
    writerIn: 403,
    writerOut: 403,
    admin: status,
  });
  const write = { reader: 403, readerOut: 403, writerIn: 202, writerOut: 403, admin: 202 };
  const singleRead = { reader: 200, readerOut: 404, writerIn: 200, writerOut: 404, admin: 200 };
  const list = { reader: 200, writerIn: 200, admin: 200 };

  const routes: Route[] = [
    {
      group: 'deployment writes',
      route: 'POST /v1/deployments',
      call: async (ns) => ({ method: 'POST', path: '/v1/deployments', body: createBody(ns, `c-${uniqueId()}`) }),
      expect: write,
    },
    {
      group: 'deployment writes',
      route: 'PUT /v1/deployments/{namespace}/{name}',
      call: async (ns) => ({
        method: 'PUT',
        path: `/v1/deployments/${ns}/seen`,
        body: { image: 'nginx:1.28', replicas: 1 },
      }),
      expect: write,
    },
    {
      group: 'deployment writes',
      route: 'PATCH /v1/deployments/{namespace}/{name}',
      call: async (ns) => ({ method: 'PATCH', path: `/v1/deployments/${ns}/seen`, body: { replicas: 2 } }),
      expect: write,
    },
    {
      group: 'deployment writes',
      route: 'DELETE /v1/deployments/{namespace}/{name}',
      call: async (ns) => ({ method: 'DELETE', path: `/v1/deployments/${ns}/gone-${uniqueId()}` }),
      expect: write,
    },
    {
      group: 'deployment writes',
      route: 'PATCH /v1/deployments/{namespace}/{name}?dryRun=true',
      call: async (ns) => ({ method: 'PATCH', path: `/v1/deployments/${ns}/seen?dryRun=true`, body: { replicas: 2 } }),
      // No worker runs here: a 503 shows the role and the scope were checked before a worker was asked.
      expect: { reader: 403, readerOut: 403, writerIn: 503, writerOut: 403, admin: 503 },
    },
    {
      group: 'deployment reads',
      route: 'GET /v1/deployments',
      call: async () => ({ method: 'GET', path: '/v1/deployments' }),
      expect: list,
    },
    {
      group: 'deployment reads',
      route: 'GET /v1/deployments/{namespace}/{name}',
      call: async (ns) => ({ method: 'GET', path: `/v1/deployments/${ns}/seen` }),
      expect: singleRead,
    },
    {
      group: 'requests',
      route: 'GET /v1/requests',
      call: async () => ({ method: 'GET', path: '/v1/requests' }),
      expect: list,
    },
    {
      group: 'requests',
      route: 'GET /v1/requests/{requestId}',
      call: async (ns) => ({ method: 'GET', path: `/v1/requests/${requestIn[ns]}` }),
      expect: singleRead,
    },
    {
      group: 'events',
      route: 'GET /v1/events',
      // follow=false: the events kept, then the stream ends (an endless one would never answer).
      call: async (ns) => ({ method: 'GET', path: `/v1/events?namespace=${ns}&lastEventId=0&follow=false` }),
      expect: list,
    },
    {
      group: 'requests',
      route: 'GET /v1/requests/{requestId}?wait=done',
      call: async (ns) => ({ method: 'GET', path: `/v1/requests/${requestIn[ns]}?wait=done&timeout=1` }),
      expect: singleRead,
    },
    {
      group: 'retry',
      route: 'POST /v1/requests/{requestId}/retry',
      call: async (ns) => ({ method: 'POST', path: `/v1/requests/${await failedRequest(ns)}/retry` }),
      // Out of scope, a request is absent (404), not forbidden: never a hint that it exists.
      expect: { reader: 403, readerOut: 403, writerIn: 202, writerOut: 404, admin: 202 },
    },
    {
      group: 'dead letters',
      route: 'GET /v1/dead-letters',
      call: async () => ({ method: 'GET', path: '/v1/dead-letters' }),
      expect: adminOnly(200),
    },
    {
      group: 'admin reconcile',
      route: 'POST /v1/admin/reconcile',
      call: async () => ({ method: 'POST', path: '/v1/admin/reconcile' }),
      expect: adminOnly(202),
    },
    {
      group: 'admin reconcile',
      route: 'GET /v1/admin/reconcile-runs',
      call: async () => ({ method: 'GET', path: '/v1/admin/reconcile-runs' }),
      expect: adminOnly(200),
    },
    {
      group: 'admin reconcile',
      route: 'GET /v1/admin/reconcile-runs/{id}',
      call: async () => ({ method: 'GET', path: `/v1/admin/reconcile-runs/${reconcileRunId}` }),
      expect: adminOnly(200),
    },
    {
      group: 'api keys',
      route: 'POST /v1/api-keys',
      call: async () => ({
        method: 'POST',
        path: '/v1/api-keys',
        body: { name: `made-${uniqueId()}`, role: 'reader', namespaces: [nsA] },
      }),
      expect: adminOnly(201),
    },
    {
      group: 'api keys',
      route: 'GET /v1/api-keys',
      call: async () => ({ method: 'GET', path: '/v1/api-keys' }),
      expect: adminOnly(200),
    },
    {
      group: 'api keys',
      route: 'DELETE /v1/api-keys/{id}',
      call: async () => ({
        method: 'DELETE',
        path: `/v1/api-keys/${(await createKey({ name: `doomed-${uniqueId()}`, role: 'reader', namespaces: [nsA] })).id}`,
      }),
      expect: adminOnly(200),
    },
    {
      group: 'audit',
      route: 'GET /v1/audit',
      call: async () => ({ method: 'GET', path: '/v1/audit' }),
      expect: adminOnly(200),
    },
    {
      group: 'audit',
      route: 'POST /v1/audit/purge',
      // A century: nothing this suite wrote goes, but the purge itself runs (and is audited).
      call: async () => ({ method: 'POST', path: '/v1/audit/purge', body: { olderThanDays: 36_500 } }),
      expect: adminOnly(200),
    },
  ];

  describe.each(routes.map((r) => [`${r.group}: ${r.route}`, r] as const))('%s', (_, route) => {
    it.each(UNAUTHENTICATED)('%s key: 401 with WWW-Authenticate: Bearer', async (who) => {
      const { method, path, body } = await route.call(targetOf(who));
      const r = await as(who, method, path, body);
      expect({ status: r.status, code: r.body.code }).toEqual({ status: 401, code: 'AuthenticationRequired' });
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    });

    const cases = Object.entries(route.expect) as [Caller, number][];
    it.each(cases)('%s: %i', async (who, status) => {
      const { method, path, body } = await route.call(targetOf(who));
      const r = await as(who, method, path, body);
      expect({ status: r.status, body: r.status === status ? undefined : r.body }).toEqual({ status, body: undefined });
      if (status === 403) expect(r.body.code).toBe('PermissionDenied');
      if (status === 401) expect(r.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    });
  });

  // --- around the matrix ------------------------------------------------------------------

  it.each([
    ['Basic credentials', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['Bearer without a token', 'Bearer'],
    ['Bearer with an empty token', 'Bearer  '],
    ['a bare key without Bearer', `kdm_${randomBytes(32).toString('base64url')}`],
    ['a token without the kdm_ prefix', `Bearer ${randomBytes(32).toString('base64url')}`],
    ['a kdm_ token that is too short', 'Bearer kdm_abc'],
    [
      'the admin key with a character changed',
      `Bearer ${process.env.ADMIN_API_KEY!.slice(0, -1)}${process.env.ADMIN_API_KEY!.endsWith('A') ? 'B' : 'A'}`,
    ],
  ])('a malformed Authorization header (%s) is a 401 with WWW-Authenticate: Bearer', async (_, header) => {
    const r = await http(suite.api, 'GET', '/v1/requests', undefined, { authorization: header });
    expect({ status: r.status, code: r.body.code }).toEqual({ status: 401, code: 'AuthenticationRequired' });
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
  });

  it('health, readiness and the docs stay open; /metrics is not on the API port', async () => {
    for (const path of ['/healthz', '/readyz', '/docs-json']) {
      expect({ path, status: (await http(suite.api, 'GET', path, undefined, { authorization: '' })).status }).toEqual({
        path,
        status: 200,
      });
    }
    expect((await http(suite.api, 'GET', '/metrics')).status).toBe(404);
  });

  it('lists hold only rows in the key scope', async () => {
    const ids = (r: { body: { items: { requestId: string }[] } }) => r.body.items.map((i) => i.requestId);
    const namespaces = (r: { body: { items: { namespace: string }[] } }) =>
      new Set(r.body.items.map((i) => i.namespace));

    const readerRequests = await as('reader', 'GET', '/v1/requests?limit=200');
    expect(readerRequests.status).toBe(200);
    expect([...namespaces(readerRequests)]).toEqual([nsA]);
    expect(ids(readerRequests)).toContain(requestIn[nsA]);
    const adminRequests = await as('admin', 'GET', `/v1/requests?namespace=${nsB}`);
    expect(ids(adminRequests)).toContain(requestIn[nsB]);
    // Asking for an out-of-scope namespace by name finds nothing rather than an error.
    const readerAskingB = await as('reader', 'GET', `/v1/requests?namespace=${nsB}`);
    expect({ status: readerAskingB.status, items: readerAskingB.body.items }).toEqual({ status: 200, items: [] });

    const writerRequests = await as('writerIn', 'GET', '/v1/requests?limit=200');
    expect([...namespaces(writerRequests)].every((ns) => ns.startsWith(nsA))).toBe(true);
    expect(ids(writerRequests)).not.toContain(requestIn[nsB]);

    const readerDeployments = await as('reader', 'GET', '/v1/deployments?limit=200');
    expect(readerDeployments.status).toBe(200);
    expect([...namespaces(readerDeployments)]).toEqual([nsA]);
    const readerDeploymentsInB = await as('reader', 'GET', `/v1/deployments?namespace=${nsB}`);
    expect({ status: readerDeploymentsInB.status, items: readerDeploymentsInB.body.items }).toEqual({
      status: 200,
      items: [],
    });
    const adminDeploymentsInB = await as('admin', 'GET', `/v1/deployments?namespace=${nsB}`);
    expect(adminDeploymentsInB.body.items.map((d: { name: string }) => d.name)).toEqual(['seen']);
  });

  it('a single read out of scope answers exactly what an absent one does', async () => {
    const strip = (r: { status: number; body: Record<string, unknown> }, id: string) => ({
      status: r.status,
      body: JSON.parse(JSON.stringify(r.body).replaceAll(id, '<id>')),
    });
    const absentId = randomUUID();
    expect(strip(await as('reader', 'GET', `/v1/requests/${requestIn[nsB]}`), requestIn[nsB])).toEqual(
      strip(await as('reader', 'GET', `/v1/requests/${absentId}`), absentId),
    );
    expect(strip(await as('reader', 'GET', `/v1/deployments/${nsB}/seen`), `${nsB}/seen`)).toEqual(
      strip(await as('reader', 'GET', `/v1/deployments/${nsB}/never-seen`), `${nsB}/never-seen`),
    );
  });

  it('a writer cannot write outside MANAGED_NAMESPACES even where its scope names the namespace', async () => {
    const r = await as('writerIn', 'POST', '/v1/deployments', createBody(unmanaged, 'web'));
    expect({ status: r.status, code: r.body.code }).toEqual({ status: 403, code: 'NamespaceNotAllowed' });
  });

  it('an admin key always has scope *: asking for one with namespaces is a 400', async () => {
    const r = await http(suite.api, 'POST', '/v1/api-keys', {
      name: `narrow-admin-${id}`,
      role: 'admin',
      namespaces: [nsA],
    });
    expect(r.status).toBe(400);
  });

  it('idempotency keys are isolated between API keys', async () => {
    const first = await createKey({ name: `idem-1-${id}`, role: 'writer', namespaces: [nsA] });
    const second = await createKey({ name: `idem-2-${id}`, role: 'writer', namespaces: [nsA] });
    const key = `shared-${id}`;
    const post = (k: { key: string }, name: string) =>
      http(suite.api, 'POST', '/v1/deployments', createBody(nsA, name), { ...bearer(k.key), 'idempotency-key': key });

    const a = await post(first, 'idem-a');
    // The same Idempotency-Key from another API key, with another body: a new request, not a 422.
    const b = await post(second, 'idem-b');
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body.requestId).not.toBe(a.body.requestId);
    expect([a.body.requestId, b.body.requestId]).not.toContain(key);
    expect([a.headers.get('idempotent-replayed'), b.headers.get('idempotent-replayed')]).toEqual([null, null]);
    expect([a.body.requestedBy, b.body.requestedBy]).toEqual([
      { keyId: first.id, name: `idem-1-${id}` },
      { keyId: second.id, name: `idem-2-${id}` },
    ]);

    // Each key replays its own record, never the other's.
    const aAgain = await post(first, 'idem-a');
    const bAgain = await post(second, 'idem-b');
    expect([aAgain.status, aAgain.body.requestId, aAgain.headers.get('idempotent-replayed')]).toEqual([
      202,
      a.body.requestId,
      'true',
    ]);
    expect([bAgain.status, bAgain.body.requestId, bAgain.headers.get('idempotent-replayed')]).toEqual([
      202,
      b.body.requestId,
      'true',
    ]);
    // Within one API key the Idempotency-Key still guards its body.
    const reused = await post(first, 'idem-b');
    expect({ status: reused.status, code: reused.body.code }).toEqual({ status: 422, code: 'IdempotencyKeyReused' });

    // The admin, who sees both, finds two records.
    const listed = await as('admin', 'GET', `/v1/requests?namespace=${nsA}&limit=200`);
    const both = listed.body.items.filter((i: { requestId: string }) =>
      [a.body.requestId, b.body.requestId].includes(i.requestId),
    );
    expect(both.map((i: { name: string }) => i.name).sort()).toEqual(['idem-a', 'idem-b']);
  });
});
