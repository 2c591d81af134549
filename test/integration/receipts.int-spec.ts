import { ReconcilerService } from '../../src/reconciler/reconciler.service.js';
import { useSuite } from '../support/fixture.js';
import { eventually, http, kube, settled, uniqueId } from '../support/harness.js';

// Rollout receipts on the real stack: an API, a worker and a watcher; KWOK runs the pods
// (an image of k8sdm.test/never-ready:1 makes pods that run but never become Ready).
describe('rollout receipts', () => {
  const ns = `rcpt-${uniqueId()}`;
  const suite = useSuite({
    namespaces: [ns],
    createNamespaces: true,
    env: { ROLE: 'api,worker,watcher', MANAGED_NAMESPACES: ns },
  });
  const NEVER_READY = 'k8sdm.test/never-ready:1';
  const path = (name: string) => `/v1/deployments/${ns}/${name}`;

  async function succeeded(res: { status: number; body: { requestId: string } }) {
    expect(res.status).toBe(202);
    const rec = await settled(suite.api, res.body.requestId);
    expect(rec.status).toBe('SUCCESS');
    return rec;
  }

  /** Waits until the request's receipt is in a final state, and returns the record (or fails naming the last one seen). */
  async function finalReceipt(requestId: string, timeoutMs = 60_000) {
    let last: unknown;
    try {
      return await eventually(async () => {
        const r = await http(suite.api, 'GET', `/v1/requests/${requestId}`);
        last = r.body;
        return ['COMPLETE', 'FAILED', 'SUPERSEDED', 'GONE'].includes(r.body.rollout?.state) ? r.body : undefined;
      }, timeoutMs);
    } catch (e) {
      throw new Error(`${(e as Error).message}; the last record: ${JSON.stringify(last)}`, { cause: e });
    }
  }

  it('a create reaches COMPLETE with its replica counts, shown in the record, the list and the detail', async () => {
    const created = await succeeded(
      await http(suite.api, 'POST', '/v1/deployments', {
        namespace: ns,
        name: 'web',
        image: 'nginx:1.27',
        replicas: 2,
      }),
    );
    expect(created.rollout).toMatchObject({ generation: 1 });
    const rec = await finalReceipt(created.requestId);
    expect(rec.rollout).toEqual({
      state: 'COMPLETE',
      generation: 1,
      observedGeneration: 1,
      replicas: { desired: 2, updated: 2, ready: 2, available: 2 },
      reason: expect.any(String),
      message: expect.any(String),
      completedAt: expect.any(String),
    });

    const list = await http(suite.api, 'GET', `/v1/requests?namespace=${ns}&name=web`);
    expect(list.body.items.find((i: any) => i.requestId === created.requestId).rollout.state).toBe('COMPLETE');

    const detail = await eventually(async () => {
      const d = await http(suite.api, 'GET', path('web'));
      return d.status === 200 ? d.body : undefined;
    });
    expect(detail.latestRequest).toEqual({
      requestId: created.requestId,
      operation: 'CREATE',
      status: 'SUCCESS',
      rollout: rec.rollout,
    });
  });

  it('never-ready pods with a short progress deadline end FAILED with ProgressDeadlineExceeded', async () => {
    const created = await succeeded(
      await http(suite.api, 'POST', '/v1/deployments', {
        namespace: ns,
        name: 'stuck',
        image: NEVER_READY,
        replicas: 1,
        progressDeadlineSeconds: 2,
      }),
    );
    expect(created.spec).toMatchObject({ progressDeadlineSeconds: 2 });
    const rec = await finalReceipt(created.requestId, 90_000);
    expect(rec.rollout).toMatchObject({
      state: 'FAILED',
      generation: 1,
      observedGeneration: 1,
      reason: 'ProgressDeadlineExceeded',
      replicas: { desired: 1, ready: 0, available: 0 },
    });
  });

  it('refuses a progressDeadlineSeconds out of bounds, naming the field', async () => {
    const res = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'bad',
      image: 'nginx:1.27',
      replicas: 1,
      progressDeadlineSeconds: 0,
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.message)).toContain('progressDeadlineSeconds');
  });

  it('of two quick updates, the first (which cannot complete) is SUPERSEDED and the second COMPLETE', async () => {
    const created = await succeeded(
      await http(suite.api, 'POST', '/v1/deployments', {
        namespace: ns,
        name: 'twice',
        image: 'nginx:1.27',
        replicas: 1,
      }),
    );
    expect((await finalReceipt(created.requestId)).rollout.state).toBe('COMPLETE');
    // The first update's pods never become Ready, so only the second can supersede it.
    const first = await http(suite.api, 'PATCH', path('twice'), { image: NEVER_READY });
    const second = await http(suite.api, 'PATCH', path('twice'), { image: 'nginx:1.28' });
    await succeeded(first);
    await succeeded(second);
    const [a, b] = [await finalReceipt(first.body.requestId), await finalReceipt(second.body.requestId)];
    expect(a.rollout).toMatchObject({ state: 'SUPERSEDED', generation: 2 });
    expect(b.rollout).toMatchObject({ state: 'COMPLETE', generation: 3, observedGeneration: 3 });
  });

  it('a delete goes WAITING to GONE, and the detail shows it as the latest receipt', async () => {
    const created = await succeeded(
      await http(suite.api, 'POST', '/v1/deployments', {
        namespace: ns,
        name: 'bye',
        image: 'nginx:1.27',
        replicas: 1,
      }),
    );
    await finalReceipt(created.requestId);
    const deleted = await succeeded(await http(suite.api, 'DELETE', path('bye')));
    expect(deleted.rollout).toMatchObject({ generation: 1 });
    const rec = await finalReceipt(deleted.requestId);
    expect(rec.rollout).toMatchObject({ state: 'GONE', generation: 1, completedAt: expect.any(String) });
    const detail = await http(suite.api, 'GET', path('bye'));
    expect(detail.status).toBe(200);
    expect(detail.body.latestRequest).toMatchObject({
      requestId: deleted.requestId,
      operation: 'DELETE',
      rollout: { state: 'GONE' },
    });
  });
});

// No watcher here: only a reconcile pass can move the receipt (as when the watcher was down).
describe('rollout receipts repaired by the reconciler', () => {
  const ns = `rcpt-${uniqueId()}`;
  const { apps } = kube();
  const suite = useSuite({
    namespaces: [ns],
    createNamespaces: true,
    env: { ROLE: 'api,worker,reconciler', MANAGED_NAMESPACES: ns, RECONCILE_CRON: '0 0 1 1 *' },
  });

  it('a pass moves a receipt the watcher never saw to COMPLETE', async () => {
    const res = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'web',
      image: 'nginx:1.27',
      replicas: 1,
    });
    const done = await settled(suite.api, res.body.requestId);
    expect(done).toMatchObject({ status: 'SUCCESS', rollout: { state: 'WAITING', generation: 1 } });
    await eventually(async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
      return d.status?.observedGeneration === 1 && d.status.availableReplicas === 1;
    }, 60_000);
    // Still WAITING: nothing has mirrored the rollout.
    expect((await http(suite.api, 'GET', `/v1/requests/${res.body.requestId}`)).body.rollout.state).toBe('WAITING');

    await suite.app.app.get(ReconcilerService).runOnce();
    const after = await http(suite.api, 'GET', `/v1/requests/${res.body.requestId}`);
    expect(after.body.rollout).toMatchObject({
      state: 'COMPLETE',
      observedGeneration: 1,
      replicas: { desired: 1, updated: 1, ready: 1, available: 1 },
    });
  });
});
