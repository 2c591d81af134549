import { useSuite } from '../support/fixture.js';
import { acceptanceOrderBreaks, eventually, http, kube, settled, uniqueId } from '../support/harness.js';

// Per-deployment ordering with several workers: the last accepted request is what Kubernetes ends with.
describe('per-deployment ordering', () => {
  const ns = `po-${uniqueId()}`;
  const { apps } = kube();
  const suite = useSuite({ namespaces: [ns], env: { ROLE: 'api', MANAGED_NAMESPACES: ns, MAX_REPLICAS: '500' } });

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) await suite.extraApp({ ROLE: 'worker', WORKER_CONCURRENCY: '4' });
  });

  it('applies 100 interleaved updates from concurrent clients in acceptance order', async () => {
    const base = suite.api;
    const created = await http(base, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'ordered',
      image: 'nginx:0',
      replicas: 0,
    });
    expect((await settled(base, created.body.requestId)).status).toBe('SUCCESS');

    // Ten clients, each sending ten updates; they interleave at the API.
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 10 }, async (_, client) => {
        for (let k = 0; k < 10; k++) {
          const n = client * 10 + k + 1;
          const body = k % 3 === 2 ? { replicas: n } : { image: `nginx:${n}`, replicas: n };
          const method = k % 3 === 2 ? 'PATCH' : 'PUT';
          const r = await http(base, method, `/v1/deployments/${ns}/ordered`, body);
          expect(r.status).toBe(202);
          ids.push(r.body.requestId);
        }
      }),
    );
    expect(ids).toHaveLength(100);

    // 100 serialized applies drain in about 45 s alone, but took up to 320 s late in the whole
    // in-band suite on 2 cores (README, Tests). Order is what is asserted, never the time.
    const rows = await eventually(async () => {
      const res = await suite.pool.query(
        `SELECT request_id, seq, status, spec, started_at, completed_at FROM deployment_requests
         WHERE namespace = $1 AND name = 'ordered' AND operation = 'UPDATE' ORDER BY seq`,
        [ns],
      );
      return res.rows.every((r) => r.status === 'SUCCESS') && res.rows.length === 100 ? res.rows : undefined;
    }, 540_000);

    // Completion order equals acceptance order, strictly: each started only after the one before it completed.
    const byCompletion = [...rows].sort((a, b) => a.completed_at - b.completed_at);
    expect(byCompletion.map((r) => r.request_id)).toEqual(rows.map((r) => r.request_id));
    expect(acceptanceOrderBreaks(rows)).toEqual([]);

    const last = rows[rows.length - 1];
    const lastFull = [...rows].reverse().find((r) => r.spec.image !== undefined);
    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'ordered' });
    expect(d.spec?.replicas).toBe(last.spec.replicas);
    expect(d.spec?.template.spec?.containers[0].image).toBe(lastFull.spec.image);
    expect(d.metadata?.annotations?.['k8s-deployment-manager.io/request-id']).toBe(last.request_id);
  }, 600_000);
});
