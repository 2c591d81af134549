import { PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { useSuite } from '../support/fixture.js';
import { eventually, http, kube, uniqueId } from '../support/harness.js';

function deployment(name: string, labels: Record<string, string> = {}, replicas = 1): V1Deployment {
  return {
    metadata: { name, labels: { app: name, 'app.kubernetes.io/managed-by': 'k8s-deployment-manager', ...labels } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
    },
  };
}

// GET /v1/deployments… on the api role, reading the mirror a watcher in the same process keeps.
describe('deployments read API', () => {
  const ns = `da-${uniqueId()}`;
  const pagingNs = `dp-${uniqueId()}`;
  const { apps } = kube();
  const suite = useSuite({
    namespaces: [ns],
    createNamespaces: true,
    env: { ROLE: 'api,watcher', MANAGED_NAMESPACES: ns },
  });

  const mirrored = (name: string, check: (r: any) => boolean = () => true) =>
    eventually(
      async () => {
        const r = (await suite.pool.query('SELECT * FROM deployments WHERE namespace = $1 AND name = $2', [ns, name]))
          .rows[0];
        return r && check(r) ? r : undefined;
      },
      30_000,
      100,
    );

  beforeAll(async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('alpha', { team: 'payments' }) });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('bravo', { team: 'search' }) });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: deployment('charlie', { team: 'payments', tier: 'web' }),
    });
    for (const name of ['alpha', 'bravo', 'charlie']) await mirrored(name, (r) => r.rollout === 'AVAILABLE');
  });

  it('lists from the cache with source, syncedAt and filters', async () => {
    const all = await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}`);
    expect(all.status).toBe(200);
    expect(all.body.source).toBe('cache');
    expect(Date.parse(all.body.syncedAt)).toBeGreaterThan(Date.now() - 120_000);
    expect(all.body.items.map((d: any) => d.name)).toEqual(['alpha', 'bravo', 'charlie']);
    expect(all.body.items[0]).toMatchObject({
      namespace: ns,
      name: 'alpha',
      images: ['nginx:1.27'],
      desiredReplicas: 1,
      readyReplicas: 1,
      rollout: 'AVAILABLE',
      drifted: false,
      deletedAt: null,
      spec: { image: 'nginx:1.27', replicas: 1, labels: { app: 'alpha', team: 'payments' } },
    });

    const payments = await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}&label=team=payments`);
    expect(payments.body.items.map((d: any) => d.name)).toEqual(['alpha', 'charlie']);
    const both = await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}&label=team=payments&label=tier=web`);
    expect(both.body.items.map((d: any) => d.name)).toEqual(['charlie']);
    const failed = await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}&rollout=FAILED`);
    expect(failed.body.items).toEqual([]);

    // drifted is the reconciler's column: set it the way it would.
    await suite.pool.query(`UPDATE deployments SET drifted = true WHERE namespace = $1 AND name = 'bravo'`, [ns]);
    const drifted = await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}&drifted=true`);
    expect(drifted.body.items.map((d: any) => d.name)).toEqual(['bravo']);
    const clean = await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}&drifted=false`);
    expect(clean.body.items.map((d: any) => d.name)).toEqual(['alpha', 'charlie']);
  });

  it('keeps drifted across watcher updates, and shows deleted Deployments only when asked', async () => {
    await apps.patchNamespacedDeployment(
      { namespace: ns, name: 'bravo', body: { metadata: { labels: { extra: 'yes' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const updated = await mirrored('bravo', (r) => r.labels.extra === 'yes');
    expect(updated.drifted).toBe(true);

    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'bravo' });
    await mirrored('bravo', (r) => r.deleted_at !== null);
    const live = await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}`);
    expect(live.body.items.map((d: any) => d.name)).toEqual(['alpha', 'charlie']);
    const withDeleted = await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}&includeDeleted=true`);
    expect(withDeleted.body.items.map((d: any) => [d.name, d.deletedAt !== null])).toEqual([
      ['alpha', false],
      ['bravo', true],
      ['charlie', false],
    ]);
    // A deleted one was seen, so it is still found, marked deleted.
    const one = await http(suite.api, 'GET', `/v1/deployments/${ns}/bravo`);
    expect(one.status).toBe(200);
    expect(one.body.deployment.deletedAt).not.toBeNull();
  });

  it('returns one record with its most recent requests, from the cache or (strong) from Kubernetes', async () => {
    // No worker runs here, so the request stays queued; it still belongs to alpha's history.
    const submitted = await http(suite.api, 'PATCH', `/v1/deployments/${ns}/alpha`, { replicas: 2 });
    expect(submitted.status).toBe(202);

    const cached = await http(suite.api, 'GET', `/v1/deployments/${ns}/alpha`);
    expect(cached.status).toBe(200);
    expect(cached.body.source).toBe('cache');
    expect(Date.parse(cached.body.syncedAt)).not.toBeNaN();
    expect(cached.body.deployment).toMatchObject({ namespace: ns, name: 'alpha', desiredReplicas: 1 });
    expect(cached.body.recentRequests.map((r: any) => r.requestId)).toEqual([submitted.body.requestId]);

    await apps.patchNamespacedDeploymentScale(
      { namespace: ns, name: 'alpha', body: { spec: { replicas: 4 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const strong = await http(suite.api, 'GET', `/v1/deployments/${ns}/alpha?consistency=strong`);
    expect(strong.status).toBe(200);
    expect(strong.body.source).toBe('kubernetes');
    expect(strong.body.deployment.desiredReplicas).toBe(4);
    expect(Date.parse(strong.body.syncedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(strong.body.recentRequests).toHaveLength(1);
  });

  it('answers 404 for a Deployment never seen, and 400 for bad filters', async () => {
    const missing = await http(suite.api, 'GET', `/v1/deployments/${ns}/never-was`);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('DeploymentNotFound');
    const missingStrong = await http(suite.api, 'GET', `/v1/deployments/${ns}/never-was?consistency=strong`);
    expect(missingStrong.status).toBe(404);
    expect(missingStrong.body.code).toBe('DeploymentNotFound');

    for (const q of [
      'label=novalue',
      'rollout=DONE',
      'includeDeleted=maybe',
      'limit=0',
      'cursor=not*a*cursor',
      'consistency=psychic',
    ]) {
      const path = q.startsWith('consistency') ? `/v1/deployments/${ns}/alpha?${q}` : `/v1/deployments?${q}`;
      expect([q, (await http(suite.api, 'GET', path)).status]).toEqual([q, 400]);
    }
    expect(
      (await http(suite.api, 'GET', `/v1/deployments?cursor=${Buffer.from('"x"').toString('base64url')}`)).status,
    ).toBe(400);
  });

  it('pages stably while rows are being inserted: every row present at the start appears exactly once, in order', async () => {
    const insert = (names: string[]) =>
      suite.pool.query(
        `INSERT INTO deployments (namespace, name, uid, desired_replicas, generation, resource_version, rollout)
         SELECT $1, n, gen_random_uuid(), 1, 1, '1', 'AVAILABLE' FROM unnest($2::text[]) AS n`,
        [pagingNs, names],
      );
    const original = Array.from({ length: 30 }, (_, i) => `d-${String(i).padStart(2, '0')}`);
    await insert(original);

    const seen: string[] = [];
    let cursor: string | null = null;
    let round = 0;
    do {
      const page: any = await http(
        suite.api,
        'GET',
        `/v1/deployments?namespace=${pagingNs}&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((d: any) => d.name));
      cursor = page.body.nextCursor;
      // New rows before, between and after the pages already read.
      await insert([`a-${round}`, `d-${String(round * 3).padStart(2, '0')}x`, `z-${round}`]);
      round++;
    } while (cursor);

    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(seen);
    expect(original.filter((n) => !seen.includes(n))).toEqual([]);
    expect(seen).toContain('z-0');
  });
});
