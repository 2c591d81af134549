import { PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import type { Running } from '../../src/bootstrap.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { eventually, http, kube, settled, uniqueId } from '../support/harness.js';
import { useSuite } from '../support/fixture.js';

/**
 * Kubernetes calls per request, counted by the worker's own metrics (dm_kubernetes_call_seconds
 * by verb and code): one write in steady state, the read-and-check fallback when what the
 * worker knew is out of date, and never a change to a Deployment it does not manage.
 */
describe('one Kubernetes write per request', () => {
  const ns = `kc-${uniqueId()}`;
  const { apps } = kube();
  // The API and the worker; the watcher (the mirror) is a process of its own, which a test can stop.
  const suite = useSuite({
    namespaces: [ns],
    createNamespaces: true,
    env: { ROLE: 'api,worker', MANAGED_NAMESPACES: ns },
  });

  const read = (name: string) => apps.readNamespacedDeployment({ namespace: ns, name });

  /** The suite app's Kubernetes calls so far, as "verb code" → count (the API makes none here). */
  async function callCounts(): Promise<Record<string, number>> {
    const metric = await suite.app.app.get(MetricsService).kubernetesCallSeconds.get();
    const counts: Record<string, number> = {};
    for (const v of metric.values)
      if (v.metricName === 'dm_kubernetes_call_seconds_count') counts[`${v.labels.verb} ${v.labels.code}`] = v.value;
    return counts;
  }

  /** Runs one request to its end and returns it with the Kubernetes calls it made. */
  async function measured(method: string, path: string, body?: unknown) {
    const before = await callCounts();
    const accepted = await http(suite.api, method, path, body);
    expect(accepted.status).toBe(202);
    const done = await settled(suite.api, accepted.body.requestId);
    const after = await callCounts();
    const calls: Record<string, number> = {};
    for (const [k, n] of Object.entries(after)) if (n !== (before[k] ?? 0)) calls[k] = n - (before[k] ?? 0);
    return { done, calls };
  }

  const create = (name: string, spec: Record<string, unknown> = {}) =>
    measured('POST', '/v1/deployments', { namespace: ns, name, image: 'nginx:1.27', replicas: 1, ...spec });

  /** Until the rollout is done and the mirror holds the live object's resourceVersion as ours. */
  async function mirrored(name: string): Promise<V1Deployment> {
    return eventually(async () => {
      const live = await rolledOut(name);
      const { rows } = await suite.pool.query(
        `SELECT resource_version FROM deployments
         WHERE namespace = $1 AND name = $2 AND deleted_at IS NULL AND rollout = 'AVAILABLE'`,
        [ns, name],
      );
      return rows[0]?.resource_version === live.metadata?.resourceVersion && live;
    }, 60_000);
  }

  /** Until the Deployment controller is done with the object: after that nothing but a writer changes it. */
  const rolledOut = (name: string) =>
    eventually(async () => {
      const live = await read(name);
      const s = live.status ?? {};
      return s.observedGeneration === live.metadata?.generation && s.availableReplicas === live.spec?.replicas && live;
    }, 60_000);

  /** A Deployment without our managed-by label, made straight through the Kubernetes API, rolled out. */
  const foreign = async (name: string) => {
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name, labels: { app: name } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: name } },
          template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
        },
      },
    });
    return rolledOut(name);
  };

  let watcher: Running;
  beforeEach(async () => {
    watcher = await suite.extraApp({ ROLE: 'watcher' });
  });

  it('a CREATE makes one call, and a later apply drops what it leaves out (our apply owns the created fields)', async () => {
    const { done, calls } = await create('web', {
      env: { MODE: 'fast', DEBUG: '1' },
      labels: { team: 'payments' },
      annotations: { 'example.com/owner': 'alice' },
    });
    expect(done).toMatchObject({ status: 'SUCCESS', result: { generation: 1 } });
    expect(calls).toEqual({ 'create 201': 1 });
    const created = await read('web');
    expect(created.metadata?.managedFields?.filter((f) => f.manager === suite.config.KUBE_FIELD_MANAGER)).toEqual([
      expect.objectContaining({ operation: 'Apply' }),
    ]);

    await mirrored('web');
    const replaced = await measured('PUT', `/v1/deployments/${ns}/web`, {
      image: 'nginx:1.27',
      replicas: 1,
      env: { MODE: 'fast' },
    });
    expect(replaced.done.status).toBe('SUCCESS');
    const d = await read('web');
    expect(d.spec?.template.spec?.containers[0].env).toEqual([{ name: 'MODE', value: 'fast' }]);
    expect(d.metadata?.labels?.team).toBeUndefined();
    expect(d.metadata?.annotations?.['example.com/owner']).toBeUndefined();
  });

  it('an UPDATE (PUT and PATCH) and a DELETE on what the watcher mirrored make one call each', async () => {
    expect((await create('steady')).done.status).toBe('SUCCESS');
    await mirrored('steady');
    const put = await measured('PUT', `/v1/deployments/${ns}/steady`, { image: 'nginx:1.28', replicas: 2 });
    expect(put.done.status).toBe('SUCCESS');
    expect(put.calls).toEqual({ 'apply 200': 1 });

    await mirrored('steady');
    const patch = await measured('PATCH', `/v1/deployments/${ns}/steady`, { replicas: 1, labels: { tier: 'web' } });
    expect(patch.done.status).toBe('SUCCESS');
    expect(patch.calls).toEqual({ 'apply 200': 1 });
    const d = await read('steady');
    // The merge started from the mirror's spec: the PUT's image stays.
    expect([d.spec?.replicas, d.spec?.template.spec?.containers[0].image, d.metadata?.labels?.tier]).toEqual([
      1,
      'nginx:1.28',
      'web',
    ]);

    await mirrored('steady');
    const del = await measured('DELETE', `/v1/deployments/${ns}/steady`);
    expect(del.done.status).toBe('SUCCESS');
    expect(del.calls).toEqual({ 'delete 200': 1 });
    await expect(read('steady')).rejects.toMatchObject({ code: 404 });
  });

  it('with a stale mirror (changed behind us by another field manager) reads, checks, and still succeeds', async () => {
    expect((await create('stale')).done.status).toBe('SUCCESS');
    const seen = await mirrored('stale');
    await watcher.close();
    await apps.patchNamespacedDeployment(
      {
        namespace: ns,
        name: 'stale',
        fieldManager: 'someone-else',
        body: [{ op: 'add', path: '/metadata/annotations/example.com~1note', value: 'theirs' }],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    expect((await read('stale')).metadata?.resourceVersion).not.toBe(seen.metadata?.resourceVersion);

    const { done, calls } = await measured('PUT', `/v1/deployments/${ns}/stale`, { image: 'nginx:1.28', replicas: 1 });
    expect(done.status).toBe('SUCCESS');
    expect(calls).toEqual({ 'apply 409': 1, 'get 200': 1, 'apply 200': 1 });
    const d = await read('stale');
    expect(d.spec?.template.spec?.containers[0].image).toBe('nginx:1.28');
    expect(d.metadata?.annotations?.['example.com/note']).toBe('theirs');
  });

  it('a CREATE on a foreign Deployment ends Conflict and leaves it exactly as it was', async () => {
    const before = await foreign('theirs');
    const { done, calls } = await create('theirs', { image: 'evil', replicas: 9 });
    expect(done).toMatchObject({ status: 'FAILURE', error: { code: 'Conflict' } });
    expect(calls).toEqual({ 'create 409': 1, 'get 200': 1 });
    expect((await read('theirs')).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });

  it('an UPDATE or DELETE where the mirror says ours but a foreign Deployment replaced it fails and changes nothing', async () => {
    expect((await create('swapped')).done.status).toBe('SUCCESS');
    await mirrored('swapped');
    await watcher.close();
    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'swapped' });
    await eventually(() =>
      read('swapped').then(
        () => false,
        (e: { code?: number }) => e.code === 404,
      ),
    );
    const theirs = await foreign('swapped');

    const put = await measured('PUT', `/v1/deployments/${ns}/swapped`, { image: 'evil', replicas: 9 });
    expect(put.done).toMatchObject({ status: 'FAILURE', error: { code: 'Forbidden' } });
    expect(put.calls).toEqual({ 'apply 409': 1, 'get 200': 1 });
    const del = await measured('DELETE', `/v1/deployments/${ns}/swapped`);
    expect(del.done).toMatchObject({ status: 'FAILURE', error: { code: 'Forbidden' } });
    expect(del.calls).toEqual({ 'delete 409': 1, 'get 200': 1 });
    const after = await read('swapped');
    expect([after.metadata?.uid, after.metadata?.resourceVersion]).toEqual([
      theirs.metadata?.uid,
      theirs.metadata?.resourceVersion,
    ]);
  });

  it('an UPDATE of ours deleted behind the mirror ends NotFound and does not bring it back', async () => {
    expect((await create('gone')).done.status).toBe('SUCCESS');
    await mirrored('gone');
    await watcher.close();
    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'gone' });
    await eventually(() =>
      read('gone').then(
        () => false,
        (e: { code?: number }) => e.code === 404,
      ),
    );

    const { done, calls } = await measured('PUT', `/v1/deployments/${ns}/gone`, { image: 'nginx:1.28', replicas: 1 });
    expect(done).toMatchObject({ status: 'FAILURE', error: { code: 'NotFound' } });
    expect(calls).toEqual({ 'apply 409': 1, 'get 404': 1 });
    await expect(read('gone')).rejects.toMatchObject({ code: 404 });
  });
});
