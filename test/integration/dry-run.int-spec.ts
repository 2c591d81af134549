import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Running } from '../../src/bootstrap.js';
import { useSuite } from '../support/fixture.js';
import { boot, dropTopology, eventually, http, kube, settled, testConfig, uniqueId } from '../support/harness.js';

// ?dryRun=true on the real stack: an API and a worker in one app, the worker answering the
// dry run with dryRun=All against the real apiserver (admission and quota included).
describe('dry run', () => {
  const id = uniqueId();
  const ns = `dr-${id}`;
  const quotaNs = `dr-${id}-q`;
  const { apps, core } = kube();
  const suite = useSuite({
    namespaces: [ns, quotaNs],
    createNamespaces: true,
    env: { ROLE: 'api,worker', MANAGED_NAMESPACES: `dr-${id}*` },
  });
  const path = (name: string, namespace = ns) => `/v1/deployments/${namespace}/${name}`;
  const requestRows = async (namespace: string, name: string) =>
    (
      await suite.pool.query(`SELECT count(*)::int AS n FROM deployment_requests WHERE namespace = $1 AND name = $2`, [
        namespace,
        name,
      ])
    ).rows[0].n as number;
  const live = async (name: string, namespace = ns) => {
    const d = await apps.readNamespacedDeployment({ namespace, name });
    return {
      image: d.spec?.template.spec?.containers[0].image,
      replicas: d.spec?.replicas,
      generation: d.metadata?.generation,
    };
  };
  const gone = async (name: string, namespace = ns) =>
    apps.readNamespacedDeployment({ namespace, name }).then(
      () => false,
      (e: { code?: number }) => e.code === 404,
    );

  async function created(name: string, body: Record<string, unknown> = {}) {
    const res = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name,
      image: 'nginx:1.27',
      replicas: 1,
      ...body,
    });
    expect(res.status).toBe(202);
    expect((await settled(suite.api, res.body.requestId)).status).toBe('SUCCESS');
  }

  it('reports the image change of a PATCH, leaves Kubernetes unchanged, records no request, and is audited', async () => {
    await created('web', { env: { MODE: 'a' } });
    const before = await live('web');

    const res = await http(suite.api, 'PATCH', `${path('web')}?dryRun=true`, { image: 'nginx:1.28' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.body).toEqual({
      dryRun: true,
      wouldChange: true,
      changes: [{ path: 'image', from: 'nginx:1.27', to: 'nginx:1.28' }],
      warnings: expect.any(Array),
    });

    expect(await live('web')).toEqual(before);
    expect(await requestRows(ns, 'web')).toBe(1); // the create only
    const audit = await suite.pool.query(
      `SELECT method, status_code, details FROM audit_log WHERE namespace = $1 AND name = 'web' AND action = 'deploymentWrites.patch'`,
      [ns],
    );
    expect(audit.rows).toEqual([
      { method: 'PATCH', status_code: 200, details: { dryRun: true, wouldChange: true, changes: 1 } },
    ]);
  });

  it('reports no change when the write would change nothing, and env and replica changes by path', async () => {
    await created('same', { env: { MODE: 'a', KEEP: 'k' } });
    const none = await http(suite.api, 'PATCH', `${path('same')}?dryRun=true`, { image: 'nginx:1.27' });
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ dryRun: true, wouldChange: false, changes: [] });

    // A PUT replaces the spec: env MODE changes, KEEP goes away.
    const put = await http(suite.api, 'PUT', `${path('same')}?dryRun=true`, {
      image: 'nginx:1.27',
      replicas: 2,
      env: { MODE: 'b' },
    });
    expect(put.status).toBe(200);
    expect(put.body.changes).toEqual([
      { path: 'env.KEEP', from: 'k', to: null },
      { path: 'env.MODE', from: 'a', to: 'b' },
      { path: 'replicas', from: 1, to: 2 },
    ]);
    expect((await live('same')).replicas).toBe(1);
  });

  it('warns that the write would take over a field another field manager owns (a kubectl scale)', async () => {
    await created('scaled');
    // What `kubectl scale --replicas=3` sends: a patch of the scale subresource as field manager kubectl-scale.
    await apps.patchNamespacedDeploymentScale(
      { namespace: ns, name: 'scaled', fieldManager: 'kubectl-scale', body: { spec: { replicas: 3 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const res = await http(suite.api, 'PATCH', `${path('scaled')}?dryRun=true`, { replicas: 2 });
    expect(res.status).toBe(200);
    expect(res.body.changes).toEqual([{ path: 'replicas', from: 3, to: 2 }]);
    expect(res.body.warnings).toContain(
      'replicas is owned by field manager "kubectl-scale" now; the write would take it over',
    );
    expect((await live('scaled')).replicas).toBe(3);
  });

  it('a dry-run CREATE lists every field from null and creates nothing; a dry-run DELETE deletes nothing', async () => {
    const create = await http(suite.api, 'POST', '/v1/deployments?dryRun=true', {
      namespace: ns,
      name: 'fresh',
      image: 'nginx:1.27',
      replicas: 2,
      containerPort: 8080,
    });
    expect(create.status).toBe(200);
    expect(create.body).toEqual({
      dryRun: true,
      wouldChange: true,
      changes: [
        { path: 'containerPort', from: null, to: 8080 },
        { path: 'image', from: null, to: 'nginx:1.27' },
        { path: 'replicas', from: null, to: 2 },
      ],
      warnings: [],
    });
    expect(await gone('fresh')).toBe(true);
    expect(await requestRows(ns, 'fresh')).toBe(0);

    await created('doomed');
    const del = await http(suite.api, 'DELETE', `${path('doomed')}?dryRun=true`);
    expect(del.status).toBe(200);
    expect(del.body.changes).toEqual(
      expect.arrayContaining([
        { path: 'image', from: 'nginx:1.27', to: null },
        { path: 'replicas', from: 1, to: null },
      ]),
    );
    expect((await live('doomed')).image).toBe('nginx:1.27');
  });

  it("a dry-run CREATE that a ResourceQuota forbids is refused by the apiserver's admission, as the real create is", async () => {
    await core.createNamespacedResourceQuota({
      namespace: quotaNs,
      body: { metadata: { name: 'no-deployments' }, spec: { hard: { 'count/deployments.apps': '0' } } },
    });
    // Admission enforces a quota only once the quota controller has computed its status.
    await eventually(async () => {
      const q = await core.readNamespacedResourceQuota({ namespace: quotaNs, name: 'no-deployments' });
      return q.status?.hard?.['count/deployments.apps'] !== undefined;
    });
    const body = { namespace: quotaNs, name: 'web', image: 'nginx:1.27', replicas: 1 };

    const dry = await http(suite.api, 'POST', '/v1/deployments?dryRun=true', body);
    expect(dry.status).toBe(403);
    expect(dry.body.code).toBe('Forbidden');
    expect(dry.body.message).toContain('exceeded quota: no-deployments');
    expect(dry.body.details).toEqual({ kubernetes: { status: 403, reason: 'Forbidden' } });
    expect(await requestRows(quotaNs, 'web')).toBe(0);

    const real = await http(suite.api, 'POST', '/v1/deployments', body);
    const record = await settled(suite.api, real.body.requestId);
    expect(record).toMatchObject({ status: 'FAILURE', error: { code: dry.body.code } });
    expect(record.error.message).toContain('exceeded quota: no-deployments');

    const audit = await suite.pool.query(
      `SELECT status_code, error_code, details FROM audit_log WHERE namespace = $1 AND action = 'deploymentWrites.create' ORDER BY id`,
      [quotaNs],
    );
    expect(audit.rows[0]).toEqual({ status_code: 403, error_code: 'Forbidden', details: { dryRun: true } });
  });

  it('gives the refusals the real request ends with: a foreign Deployment, an absent one', async () => {
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'foreign' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'foreign' } },
          template: {
            metadata: { labels: { app: 'foreign' } },
            spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
          },
        },
      },
    });
    const cases: [method: string, url: string, body: unknown][] = [
      ['PATCH', path('foreign'), { replicas: 2 }],
      ['DELETE', path('foreign'), undefined],
      ['POST', '/v1/deployments', { namespace: ns, name: 'foreign', image: 'nginx:1.27', replicas: 1 }],
      ['PUT', path('absent'), { image: 'nginx:1.27', replicas: 1 }],
    ];
    for (const [method, url, body] of cases) {
      const dry = await http(suite.api, method, url + '?dryRun=true', body);
      const real = await http(suite.api, method, url, body);
      expect(real.status).toBe(202);
      const record = await settled(suite.api, real.body.requestId);
      expect({ method, status: record.status, code: record.error?.code }).toEqual({
        method,
        status: 'FAILURE',
        code: dry.body.code,
      });
      expect(dry.status).toBe({ Forbidden: 403, Conflict: 409, NotFound: 404 }[dry.body.code as string]);
    }
    expect(await live('foreign')).toMatchObject({ replicas: 1 });
  });

  it('validates the body exactly as the real route does', async () => {
    const dry = await http(suite.api, 'PATCH', `${path('web')}?dryRun=true`, { replicas: -1, bogus: 1 });
    const real = await http(suite.api, 'PATCH', path('web'), { replicas: -1, bogus: 1 });
    expect(dry.status).toBe(400);
    expect(dry.body).toEqual(real.body);
    expect(JSON.stringify(dry.body.message)).toContain('replicas');
    const bad = await http(suite.api, 'PATCH', `${path('web')}?dryRun=maybe`, { replicas: 1 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.message)).toContain('dryRun must be true or false');
  });

  it('answers 503 naming the missing worker when no worker answers', async () => {
    // An API of its own control subject, where no worker listens.
    const config = testConfig({ ROLE: 'api', MANAGED_NAMESPACES: `dr-${id}*` });
    let api: Running | undefined;
    try {
      api = await boot(config);
      const res = await http(api.apiUrl!, 'PATCH', `${path('web')}?dryRun=true`, { replicas: 2 });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('DependencyUnavailable');
      expect(res.body.message).toBe('no worker answered: is a process with ROLE=worker running?');
      expect(res.headers.get('retry-after')).toBe('5');
    } finally {
      await api?.close();
      await dropTopology(config);
    }
  });
});
