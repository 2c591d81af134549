import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { eventually, http, kube, settled, uniqueId } from '../support/harness.js';
import { useSuite } from '../support/fixture.js';

const writesOf = (name: string) => new RegExp(`/apis/apps/v1/namespaces/[^/]+/deployments/${name}(\\?|$)`);
const REQUEST_ID_ANNOTATION = 'k8s-deployment-manager.io/request-id';

// Dead letters, message ids and retries on the real stack, faults injected by the Kubernetes proxy.
describe('transport: dead letters, message ids and retries', () => {
  const ns = `tr-${uniqueId()}`;
  const { apps } = kube();
  const suite = useSuite({
    kubeProxy: true,
    namespaces: [ns],
    env: {
      ROLE: 'api,worker',
      MANAGED_NAMESPACES: ns,
      JS_BACKOFF_BASE_MS: '100',
      JS_BACKOFF_MAX_MS: '300',
      // The retry budget is the deadline: short, so the 502s dead-letter within the test.
      REQUEST_DEADLINE_MS: '8000',
      KUBE_REQUEST_TIMEOUT_MS: '3000',
    },
  });

  afterEach(() => suite.kubeProxy.clear());

  const create = (name: string, image = 'nginx:1.27', headers: Record<string, string> = {}) =>
    http(suite.api, 'POST', '/v1/deployments', { namespace: ns, name, image, replicas: 1 }, headers);
  const read = (name: string) => apps.readNamespacedDeployment({ namespace: ns, name });

  it('dead-letters a request whose apiserver answers 502 with a multi-line HTML page, with a one-line reason', async () => {
    const page =
      '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n' +
      '<center><h1>502 Bad Gateway</h1></center>\r\n<p>Passerelle défaillante ☃</p>\r\n</body>\r\n</html>\r\n';
    suite.kubeProxy.inject({ path: writesOf('html502'), status: 502, body: page });
    const r = await create('html502');
    expect(r.status).toBe(202);

    const failed = await settled(suite.api, r.body.requestId);
    expect(failed).toMatchObject({ status: 'FAILURE', deadLettered: true });
    expect(failed.error.message).toContain('502 Bad Gateway');
    expect(failed.error.message).not.toMatch(/[\r\n]/);

    const nc = await connect({ servers: suite.config.NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      // The copy reached the dead-letter stream (before the fix its header threw and nothing arrived).
      const dead = await eventually(
        () => jsm.streams.getMessage(suite.config.NATS_DLQ_STREAM, { last_by_subj: suite.config.NATS_DLQ_SUBJECT }),
        30_000,
      );
      expect(dead.json<{ requestId: string }>().requestId).toBe(r.body.requestId);
      const reason = dead.header.get('Dm-Dead-Letter-Reason');
      expect(reason).toContain('<h1>502 Bad Gateway</h1>');
      expect(reason).toContain('Passerelle défaillante ☃');
      expect(reason).not.toMatch(/[\r\n\t]|\s{2}/);
      expect(reason.length).toBeLessThanOrEqual(1000);
      // ...and the work-queue message was terminated, not left unacked.
      await eventually(async () => (await jsm.streams.info(suite.config.NATS_STREAM)).state.messages === 0, 30_000);
    } finally {
      await nc.close();
    }
  });

  it('a retry of a request sent with Idempotency-Key "K" is not dropped as a duplicate of one sent with "K#retry-1"', async () => {
    const key = `abc-${uniqueId()}`;
    suite.kubeProxy.inject({ method: 'PATCH', path: writesOf('collide'), status: 403, times: 1 });
    const first = await create('collide', 'nginx:1.27', { 'Idempotency-Key': key });
    const firstId: string = first.body.requestId;
    expect(await settled(suite.api, firstId)).toMatchObject({ status: 'FAILURE', error: { code: 'Forbidden' } });

    // The message id the oldest scheme gave K's first retry (keys were request ids then).
    const other = await create('collide-other', 'nginx:1.27', { 'Idempotency-Key': `${key}#retry-1` });
    expect(other.status).toBe(202);
    const retried = await http(suite.api, 'POST', `/v1/requests/${encodeURIComponent(firstId)}/retry`);
    expect(retried.status).toBe(202);

    expect(await settled(suite.api, other.body.requestId, 30_000)).toMatchObject({ status: 'SUCCESS' });
    expect(await settled(suite.api, firstId, 30_000)).toMatchObject({ status: 'SUCCESS', attempts: 2 });
    expect((await read('collide')).metadata?.annotations?.[REQUEST_ID_ANNOTATION]).toBe(firstId);
  });

  it('refuses to retry a failed DELETE once a newer request for the Deployment succeeded, naming it (409)', async () => {
    const created = await create('stale');
    expect(await settled(suite.api, created.body.requestId)).toMatchObject({ status: 'SUCCESS' });
    suite.kubeProxy.inject({ method: 'DELETE', path: writesOf('stale'), status: 403, times: 1 });
    const del = await http(suite.api, 'DELETE', `/v1/deployments/${ns}/stale`);
    expect(await settled(suite.api, del.body.requestId)).toMatchObject({
      status: 'FAILURE',
      error: { code: 'Forbidden' },
    });
    const newer = await http(suite.api, 'PUT', `/v1/deployments/${ns}/stale`, { image: 'nginx:1.28', replicas: 2 });
    expect(await settled(suite.api, newer.body.requestId)).toMatchObject({ status: 'SUCCESS' });

    const retry = await http(suite.api, 'POST', `/v1/requests/${del.body.requestId}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body).toMatchObject({
      code: 'RetrySuperseded',
      details: { newerRequestId: newer.body.requestId, newerStatus: 'SUCCESS' },
    });
    expect(retry.body.message).toContain(newer.body.requestId);

    // Nothing was queued: the DELETE stays as it was, and Kubernetes keeps the newer spec.
    const after = await http(suite.api, 'GET', `/v1/requests/${del.body.requestId}`);
    expect(after.body).toMatchObject({ status: 'FAILURE', attempts: 1, error: { code: 'Forbidden' } });
    const d = await read('stale');
    expect(d.spec?.replicas).toBe(2);
    expect(d.metadata?.annotations?.[REQUEST_ID_ANNOTATION]).toBe(newer.body.requestId);
  });

  it('refuses to retry while a newer request for the Deployment is still open, naming it (409)', async () => {
    suite.kubeProxy.inject({ method: 'PATCH', path: writesOf('busy'), status: 403, times: 1 });
    const old = await create('busy');
    expect(await settled(suite.api, old.body.requestId)).toMatchObject({ status: 'FAILURE' });
    // The newer request's apply is held by the proxy (then forwarded), so it is open meanwhile.
    suite.kubeProxy.inject({ method: 'PATCH', path: writesOf('busy'), delayMs: 4_000, times: 1 });
    const hitsBefore = suite.kubeProxy.hits.length;
    const newer = await create('busy', 'nginx:1.28');
    await eventually(async () => suite.kubeProxy.hits.slice(hitsBefore).some((h) => h.method === 'PATCH'), 20_000);

    const retry = await http(suite.api, 'POST', `/v1/requests/${old.body.requestId}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body).toMatchObject({ code: 'RetrySuperseded', details: { newerRequestId: newer.body.requestId } });
    // Its apply is in flight (held by the proxy), so a worker has claimed it.
    expect(retry.body.details.newerStatus).toBe('PROCESSING');
    expect(await settled(suite.api, newer.body.requestId)).toMatchObject({ status: 'SUCCESS' });
    expect((await http(suite.api, 'GET', `/v1/requests/${old.body.requestId}`)).body.status).toBe('FAILURE');
  });

  it('still retries a failed request when the newer requests for the Deployment failed too', async () => {
    const created = await create('older');
    expect(await settled(suite.api, created.body.requestId)).toMatchObject({ status: 'SUCCESS' });
    suite.kubeProxy.inject({ method: 'DELETE', path: writesOf('older'), status: 403, times: 1 });
    const del = await http(suite.api, 'DELETE', `/v1/deployments/${ns}/older`);
    expect(await settled(suite.api, del.body.requestId)).toMatchObject({ status: 'FAILURE' });
    suite.kubeProxy.inject({ method: 'PATCH', path: writesOf('older'), status: 403, times: 1 });
    const patch = await http(suite.api, 'PATCH', `/v1/deployments/${ns}/older`, { replicas: 3 });
    expect(await settled(suite.api, patch.body.requestId)).toMatchObject({ status: 'FAILURE' });

    const retry = await http(suite.api, 'POST', `/v1/requests/${del.body.requestId}/retry`);
    expect(retry.status).toBe(202);
    expect(await settled(suite.api, del.body.requestId)).toMatchObject({ status: 'SUCCESS', attempts: 2 });
    await eventually(
      () =>
        read('older').then(
          () => false,
          () => true,
        ),
      30_000,
    );
  });
});
