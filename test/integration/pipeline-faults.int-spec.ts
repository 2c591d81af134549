import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { useSuite } from '../support/fixture.js';
import { eventually, http, kube, settled, uniqueId } from '../support/harness.js';

const DEPLOYMENT_WRITES = /\/apis\/apps\/v1\/namespaces\/[^/]+\/deployments\/[^/?]+(\?|$)/;

// Failure handling on the real stack, with faults injected between our processes and the real servers.
describe('request pipeline under faults', () => {
  const ns = `pf-${uniqueId()}`;
  const { apps } = kube();
  const suite = useSuite({
    kubeProxy: true,
    namespaces: [ns],
    env: {
      ROLE: 'api,worker',
      MANAGED_NAMESPACES: ns,
      JS_BACKOFF_BASE_MS: '100',
      JS_BACKOFF_MAX_MS: '500',
      // Only the cut-off intake app below may relay its outbox: this app's relay (NATS reachable) would
      // publish a request that test holds back once it is a second old.
      OUTBOX_RELAY_MIN_AGE_MS: '600000',
    },
  });

  it('retries transient apiserver errors (503, 429) with backoff and ends SUCCESS', async () => {
    suite.kubeProxy.inject({ method: 'PATCH', path: DEPLOYMENT_WRITES, status: 503, times: 1 });
    suite.kubeProxy.inject({ method: 'PATCH', path: DEPLOYMENT_WRITES, status: 429, times: 1 });
    const r = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'flaky',
      image: 'nginx:1.27',
      replicas: 1,
    });
    const done = await settled(suite.api, r.body.requestId);
    expect(done).toMatchObject({ status: 'SUCCESS', attempts: 3, deadLettered: false });
    expect(done.error).toBeUndefined();
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'flaky' })).spec?.replicas).toBe(1);
    expect(suite.kubeProxy.hits.filter((h) => h.injected)).toHaveLength(2);
  });

  it('dead-letters once the retry budget (the deadline) runs out, lists it, and the retry endpoint drives it again', async () => {
    suite.kubeProxy.inject({ method: 'PATCH', path: DEPLOYMENT_WRITES, status: 503 });
    // Retries are bounded by the request's deadline: accept this one through an API that gives 3 s.
    const intake = await suite.extraApp({ ROLE: 'api', REQUEST_DEADLINE_MS: '3000' });
    let r: Awaited<ReturnType<typeof http>>;
    try {
      r = await http(intake.apiUrl!, 'POST', '/v1/deployments', {
        namespace: ns,
        name: 'doomed',
        image: 'nginx:1.27',
        replicas: 1,
      });
    } finally {
      await intake.close();
    }
    const failed = await settled(suite.api, r.body.requestId);
    expect(failed).toMatchObject({
      status: 'FAILURE',
      deadLettered: true,
      error: { code: 'KubernetesUnavailable' },
    });
    expect(failed.attempts).toBeGreaterThan(1);

    const dead = await http(suite.api, 'GET', '/v1/dead-letters?limit=10');
    expect(dead.status).toBe(200);
    expect(dead.body.items.map((i: { requestId: string }) => i.requestId)).toContain(r.body.requestId);

    // The message itself was copied to the dead-letter stream, with the reason.
    const nc = await connect({ servers: suite.config.NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const msg = await eventually(() =>
        jsm.streams
          .getMessage(suite.config.NATS_DLQ_STREAM, { last_by_subj: suite.config.NATS_DLQ_SUBJECT })
          .catch(() => null),
      );
      expect(msg.json<{ requestId: string }>().requestId).toBe(r.body.requestId);
      expect(msg.header.get('Dm-Dead-Letter-Reason')).toContain('KubernetesUnavailable');
    } finally {
      await nc.close();
    }

    suite.kubeProxy.clear();
    const retried = await http(suite.api, 'POST', `/v1/requests/${r.body.requestId}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ deadLettered: false });
    const done = await settled(suite.api, r.body.requestId);
    expect(done).toMatchObject({ status: 'SUCCESS', deadLettered: false });
    expect(done.attempts).toBe(failed.attempts + 1);
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'doomed' })).spec?.replicas).toBe(1);
  });

  it('keeps accepting requests while NATS is down and completes them once it is back', async () => {
    const natsProxy = await suite.natsCutProxy();
    // The intake API shares the worker's stream, but reaches NATS through the cuttable proxy.
    const intake = await suite.extraApp({
      ROLE: 'api',
      NATS_URL: natsProxy.url,
      OUTBOX_RELAY_INTERVAL_MS: '300',
      OUTBOX_RELAY_MIN_AGE_MS: '0',
    });
    natsProxy.down();
    await eventually(
      async () => (await http(intake.apiUrl!, 'GET', '/readyz')).body?.info?.nats?.status === 'degraded',
      10_000,
    );
    const r = await http(intake.apiUrl!, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'outbox',
      image: 'nginx:1.27',
      replicas: 1,
    });
    expect(r.status).toBe(202);
    expect(r.body.status).toBe('CREATED');
    await new Promise((res) => setTimeout(res, 1000));
    expect((await http(suite.api, 'GET', `/v1/requests/${r.body.requestId}`)).body.status).toBe('CREATED');

    natsProxy.restore();
    const done = await settled(suite.api, r.body.requestId, 60_000);
    expect(done).toMatchObject({ status: 'SUCCESS', attempts: 1 });
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'outbox' })).spec?.replicas).toBe(1);
  });
});

// A write whose call timed out may still reach the apiserver later (a slow webhook, a stuck proxy).
// The proxy holds it past the worker's timeout and forwards it anyway, after newer requests won.
describe('a timed-out Kubernetes write that lands later', () => {
  const ns = `pl-${uniqueId()}`;
  const { apps } = kube();
  const suite = useSuite({
    kubeProxy: true,
    namespaces: [ns],
    env: {
      ROLE: 'api,worker',
      MANAGED_NAMESPACES: ns,
      KUBE_REQUEST_TIMEOUT_MS: '2000',
      JS_BACKOFF_BASE_MS: '100',
      JS_BACKOFF_MAX_MS: '500',
    },
  });

  const image = async (name: string) =>
    (await apps.readNamespacedDeployment({ namespace: ns, name })).spec?.template.spec?.containers[0].image;

  /** Holds the next matching request until release(), then forwards it even though its caller gave up. */
  function holdNext(rule: { method?: string; methodPattern?: RegExp; path: RegExp }) {
    let release!: () => void;
    const until = new Promise<void>((r) => (release = r));
    const before = suite.kubeProxy.late.length;
    suite.kubeProxy.inject({ ...rule, holdUntil: until, times: 1 });
    return {
      release,
      held: () => suite.kubeProxy.late[before],
      answered: () =>
        eventually(async () => suite.kubeProxy.late[before]?.status !== undefined && suite.kubeProxy.late[before]),
    };
  }

  async function lastRequest(name: string) {
    const listed = await http(suite.api, 'GET', `/v1/requests?namespace=${ns}&name=${name}&limit=1`);
    return listed.body.items[0] as { requestId: string; status: string };
  }

  it('an UPDATE apply that lands after its retry and a newer UPDATE succeeded is refused (409): Kubernetes keeps the newer spec', async () => {
    const name = 'late-put';
    const created = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name,
      image: 'nginx:1.27',
      replicas: 1,
    });
    expect((await settled(suite.api, created.body.requestId)).status).toBe('SUCCESS');

    const hold = holdNext({ method: 'PATCH', path: new RegExp(`/namespaces/${ns}/deployments/${name}(\\?|$)`) });
    const r1 = await http(suite.api, 'PUT', `/v1/deployments/${ns}/${name}`, { image: 'nginx:1.28', replicas: 1 });
    const r1Done = await settled(suite.api, r1.body.requestId);
    expect(r1Done.status).toBe('SUCCESS');
    expect(r1Done.attempts).toBeGreaterThanOrEqual(2);
    const r2 = await http(suite.api, 'PUT', `/v1/deployments/${ns}/${name}`, { image: 'nginx:1.29', replicas: 1 });
    expect((await settled(suite.api, r2.body.requestId)).status).toBe('SUCCESS');
    expect(await image(name)).toBe('nginx:1.29');

    // R1's first apply is still held: only now does it reach the apiserver.
    expect(hold.held()).toMatchObject({ method: 'PATCH', forwarded: false });
    expect(JSON.parse(hold.held().body).spec.template.spec.containers[0].image).toBe('nginx:1.28');
    hold.release();
    const late = await hold.answered();

    expect(await image(name)).toBe('nginx:1.29');
    expect(late.status).toBe(409);
    // The worker aborted the call at its timeout rather than leaving it open.
    expect(late.callerGone).toBe(true);
    const d = await apps.readNamespacedDeployment({ namespace: ns, name });
    expect(d.metadata?.annotations?.['k8s-deployment-manager.io/request-id']).toBe(r2.body.requestId);
    expect(await lastRequest(name)).toMatchObject({ requestId: r2.body.requestId, status: 'SUCCESS' });
  });

  it('a CREATE that lands after its retry and a newer UPDATE succeeded cannot revert it', async () => {
    const name = 'late-create';
    // The first write of the create, whatever its method (a POST create, or an apply).
    const hold = holdNext({
      methodPattern: /^(POST|PATCH)$/,
      path: new RegExp(`/namespaces/${ns}/deployments(/${name})?(\\?|$)`),
    });
    const r0 = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name,
      image: 'nginx:1.27',
      replicas: 1,
    });
    const r0Done = await settled(suite.api, r0.body.requestId);
    expect(r0Done.status).toBe('SUCCESS');
    expect(r0Done.attempts).toBeGreaterThanOrEqual(2);
    const r1 = await http(suite.api, 'PUT', `/v1/deployments/${ns}/${name}`, { image: 'nginx:1.29', replicas: 1 });
    expect((await settled(suite.api, r1.body.requestId)).status).toBe('SUCCESS');

    expect(hold.held()).toMatchObject({ forwarded: false });
    expect(JSON.parse(hold.held().body).spec.template.spec.containers[0].image).toBe('nginx:1.27');
    hold.release();
    const late = await hold.answered();

    expect(await image(name)).toBe('nginx:1.29');
    expect(late.status).toBe(409);
    expect(late.callerGone).toBe(true);
    expect(await lastRequest(name)).toMatchObject({ requestId: r1.body.requestId, status: 'SUCCESS' });
  });
});
