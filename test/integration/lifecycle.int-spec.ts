import { useSuite } from '../support/fixture.js';
import { acceptanceOrderBreaks, eventually, http, kube, settled, uniqueId } from '../support/harness.js';

const writesTo = (name: string) => new RegExp(`/apis/apps/v1/namespaces/[^/]+/deployments/${name}(\\?|$)`);

interface Row {
  request_id: string;
  seq: string;
  status: string;
  attempts: number;
  dead_lettered: boolean;
  spec: { replicas?: number };
  started_at: Date;
  completed_at: Date;
}

// A request's life under slow or failing Kubernetes, lost lock connections and busy deployments (no reconciler runs).
describe('request lifecycle', () => {
  const ns = `lc-${uniqueId()}`;
  const { apps } = kube();
  // Each test boots its own app, on its own streams (suite.start with its overrides).
  const suite = useSuite({
    kubeProxy: true,
    namespaces: [ns],
    boot: false,
    env: { MANAGED_NAMESPACES: ns, JS_BACKOFF_BASE_MS: '100', JS_BACKOFF_MAX_MS: '500' },
  });
  const rows = async (name: string): Promise<Row[]> =>
    (
      await suite.pool.query(
        `SELECT request_id, seq, status, attempts, dead_lettered, spec, started_at, completed_at FROM deployment_requests
         WHERE namespace = $1 AND name = $2 ORDER BY seq`,
        [ns, name],
      )
    ).rows;
  const allDone = (name: string, count: number) =>
    eventually(
      async () => {
        const r = await rows(name);
        return r.length === count && r.every((x) => ['SUCCESS', 'FAILURE'].includes(x.status)) ? r : undefined;
      },
      90_000,
      250,
    );

  it('keeps retrying while the apiserver answers 503 for longer than the old delivery-count budget, and ends SUCCESS', async () => {
    const api = (await suite.start({ ROLE: 'api,worker' })).apiUrl!;
    suite.kubeProxy.inject({ method: 'PATCH', path: writesTo('outage'), status: 503 });
    const r = await http(api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'outage',
      image: 'nginx:1',
      replicas: 1,
    });
    expect(r.status).toBe(202);
    // JS_MAX_DELIVER=6 with backoff from 100 to 500 ms used to dead-letter on the 6th attempt:
    // wait for a 7th (however long the machine takes), and it must still be open.
    const during = await eventually(async () => {
      const rec = (await http(api, 'GET', `/v1/requests/${r.body.requestId}`)).body;
      return rec.attempts > 6 || ['SUCCESS', 'FAILURE'].includes(rec.status) ? rec : undefined;
    }, 60_000);
    expect(during).toMatchObject({ status: 'PROCESSING', deadLettered: false });
    expect(during.attempts).toBeGreaterThan(6);
    suite.kubeProxy.clear();

    const done = await settled(api, r.body.requestId);
    expect(done).toMatchObject({ status: 'SUCCESS', deadLettered: false });
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'outage' })).spec?.replicas).toBe(1);
  });

  it('wakes the requests queued behind a dead-lettered one without a reconcile pass', async () => {
    const api = (await suite.start({ ROLE: 'api,worker' })).apiUrl!;
    // R0 comes through an API that gives requests 3 s, so its retries run out while R1 and R2 wait.
    const shortLived = (await suite.extraApp({ ROLE: 'api', REQUEST_DEADLINE_MS: '3000' })).apiUrl!;
    suite.kubeProxy.inject({ method: 'PATCH', path: writesTo('orphan'), status: 503 });

    const r0 = await http(shortLived, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'orphan',
      image: 'nginx:0',
      replicas: 0,
    });
    const r1 = await http(api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'orphan',
      image: 'nginx:1',
      replicas: 1,
    });
    const r2 = await http(api, 'PATCH', `/v1/deployments/${ns}/orphan`, { replicas: 2 });
    expect([r0.status, r1.status, r2.status]).toEqual([202, 202, 202]);

    const failed = await settled(api, r0.body.requestId, 30_000);
    expect(failed).toMatchObject({ status: 'FAILURE', deadLettered: true, error: { code: 'KubernetesUnavailable' } });
    suite.kubeProxy.clear();

    // Only their own messages can wake them now: nothing else runs.
    expect(await settled(api, r1.body.requestId, 30_000)).toMatchObject({ status: 'SUCCESS' });
    expect(await settled(api, r2.body.requestId, 30_000)).toMatchObject({ status: 'SUCCESS' });
    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'orphan' });
    expect(d.spec?.replicas).toBe(2);
    expect(d.spec?.template.spec?.containers[0].image).toBe('nginx:1');
  });

  it("does not let one busy deployment's queue hold up another deployment (no head-of-line blocking)", async () => {
    const api = (await suite.start({ ROLE: 'api,worker', WORKER_CONCURRENCY: '2' })).apiUrl!;
    // Every apply to the busy deployment is slow, so its queue of 50 takes a while to drain.
    suite.kubeProxy.inject({ method: 'PATCH', path: writesTo('busy'), delayMs: 100 });

    const created = await http(api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'busy',
      image: 'nginx:0',
      replicas: 0,
    });
    expect(created.status).toBe(202);
    for (let n = 1; n < 50; n++) {
      const r = await http(api, 'PATCH', `/v1/deployments/${ns}/busy`, { replicas: n });
      expect(r.status).toBe(202);
    }
    const other = await http(api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'other',
      image: 'nginx:1',
      replicas: 1,
    });
    expect(other.status).toBe(202);

    const busy = await allDone('busy', 50);
    const [quiet] = await allDone('other', 1);
    expect(busy.every((r) => r.status === 'SUCCESS')).toBe(true);
    expect(quiet.status).toBe('SUCCESS');
    // The other deployment finished while the busy one still had requests to apply.
    const lastBusy = busy[busy.length - 1];
    expect(quiet.completed_at.getTime()).toBeLessThan(lastBusy.completed_at.getTime());
    // And the busy one still went in acceptance order.
    const byCompletion = [...busy].sort((a, b) => +a.completed_at - +b.completed_at);
    expect(byCompletion.map((r) => r.request_id)).toEqual(busy.map((r) => r.request_id));
    expect(acceptanceOrderBreaks(busy)).toEqual([]);
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'busy' })).spec?.replicas).toBe(49);
  });

  it('fences a worker whose lock connection died mid-apply: the next worker takes over and nothing lands out of order', async () => {
    const api = (await suite.start({ ROLE: 'api' })).apiUrl!;
    const worker = () => suite.extraApp({ ROLE: 'worker', WORKER_CONCURRENCY: '2' });
    const workers = [await worker(), await worker()];

    const created = await http(api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'fence',
      image: 'nginx:0',
      replicas: 0,
    });
    expect((await settled(api, created.body.requestId)).status).toBe('SUCCESS');

    // The lock holder's apply of R1 hangs in the proxy (then still goes through).
    suite.kubeProxy.inject({ method: 'PATCH', path: writesTo('fence'), delayMs: 4000, times: 1 });
    const ids: string[] = [];
    for (let n = 1; n <= 8; n++) {
      const r = await http(api, 'PATCH', `/v1/deployments/${ns}/fence`, { replicas: n });
      expect(r.status).toBe(202);
      ids.push(r.body.requestId);
    }
    await eventually(async () =>
      suite.kubeProxy.hits.some((h) => h.method === 'PATCH' && writesTo('fence').test(h.path)),
    );
    // Whoever takes over next reads the Deployment slowly, so the old holder's apply lands first.
    suite.kubeProxy.inject({ method: 'GET', path: writesTo('fence'), delayMs: 6000, times: 1 });

    const holders = await eventually(async () => {
      const res = await suite.pool.query(
        `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()`,
      );
      return res.rows.length === 1 ? res.rows : undefined;
    });
    await suite.pool.query('SELECT pg_terminate_backend($1)', [holders[0].pid]);

    const done = (await allDone('fence', 9)).slice(1);
    expect(done.map((r) => r.request_id)).toEqual(ids);
    for (const r of done) expect(r.status).toBe('SUCCESS');
    // R1 was claimed again by the worker that took over; no other request was attempted twice.
    expect(done.slice(1).map((r) => r.attempts)).toEqual(Array(7).fill(1));
    const byCompletion = [...done].sort((a, b) => +a.completed_at - +b.completed_at);
    expect(byCompletion.map((r) => r.request_id)).toEqual(ids);
    expect(acceptanceOrderBreaks(done)).toEqual([]);

    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'fence' });
    expect(d.spec?.replicas).toBe(8);
    expect(d.metadata?.annotations?.['k8s-deployment-manager.io/request-id']).toBe(ids[7]);
    // Both worker apps survived the lost connection and still serve.
    for (const w of workers) expect((await http(w.healthUrl, 'GET', '/healthz')).status).toBe(200);
  });
});
