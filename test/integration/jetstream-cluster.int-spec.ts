import { execFileSync } from 'node:child_process';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Running } from '../../src/bootstrap.js';
import { natsServers, type AppConfig } from '../../src/config/app-config.js';
import { KubeFaultProxy } from '../support/fault-proxy.js';
import { boot, deleteNamespace, eventually, http, kube, settled, testConfig, uniqueId } from '../support/harness.js';

const STACK = 'scripts/stack.sh';
const stack = (...args: string[]) => execFileSync(STACK, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The cluster's client URLs, from the script that owns its ports (K8SDM_PORT_OFFSET and K8SDM_STATE apply). */
function clusterUrl(): string {
  const m = /^export NATS_CLUSTER_URL=(.*)$/m.exec(stack('env'));
  if (!m) throw new Error('scripts/stack.sh env printed no NATS_CLUSTER_URL');
  return m[1].replace(/\\/g, '');
}

/** The node number (1-3) of a cluster server name k8sdm-js-N. */
const nodeOf = (serverName: string | undefined) => Number(/k8sdm-js-(\d)$/.exec(serverName ?? '')?.[1]);

// The real engine, clustered: R3 streams on a 3-node JetStream cluster (scripts/stack.sh up
// --nats-cluster, started here when it is not running). Requests flow while the node that
// leads the request stream is killed, and after it is restarted: every request ends
// SUCCESS, none is lost, and each is applied to Kubernetes exactly once.
describe('JetStream cluster (R3)', () => {
  const ns = `jc-${uniqueId()}`;
  const { apps, core } = kube();
  let config: AppConfig;
  let app: Running | undefined;
  let proxy: KubeFaultProxy;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let killed: number | undefined;

  beforeAll(async () => {
    stack('up', '--nats-cluster');
    const url = clusterUrl();
    nc = await connect({ servers: natsServers({ NATS_URL: url }) });
    jsm = await jetstreamManager(nc);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    // Every Kubernetes call of the app goes through the proxy, which counts the writes.
    proxy = await new KubeFaultProxy().start();
    config = testConfig({
      ROLE: 'api,worker',
      NATS_URL: url,
      JS_REPLICAS: '3',
      MANAGED_NAMESPACES: ns,
      CREATE_NAMESPACES: 'false',
      KUBECONFIG: proxy.kubeconfigPath,
      JS_ACK_WAIT_MS: '5000',
      OUTBOX_RELAY_INTERVAL_MS: '500',
      OUTBOX_RELAY_MIN_AGE_MS: '500',
    });
    app = await boot(config);
  });

  afterAll(async () => {
    await app?.close();
    // A node killed by a failing test comes back, so the next run finds the whole cluster.
    if (killed) stack('nats-node', 'start', String(killed));
    if (config && jsm)
      for (const s of [config.NATS_STREAM, config.NATS_DLQ_STREAM]) await jsm.streams.delete(s).catch(() => false);
    await nc?.close();
    await proxy?.stop();
    await deleteNamespace(ns);
  });

  const create = async (name: string) => {
    const r = await http(app!.apiUrl!, 'POST', '/v1/deployments', {
      namespace: ns,
      name,
      image: 'nginx:1.27',
      replicas: 1,
    });
    expect(r.status).toBe(202);
    return { name, requestId: r.body.requestId as string };
  };
  const batch = (prefix: string, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => create(`${prefix}-${i}`)));

  it('creates the stream, consumer and DLQ with 3 replicas', async () => {
    const stream = await eventually(async () => jsm.streams.info(config.NATS_STREAM).catch(() => undefined));
    expect(stream.config.num_replicas).toBe(3);
    expect(stream.cluster?.replicas).toHaveLength(2);
    expect((await jsm.streams.info(config.NATS_DLQ_STREAM)).config.num_replicas).toBe(3);
    expect((await jsm.consumers.info(config.NATS_STREAM, config.NATS_CONSUMER)).config.num_replicas).toBe(3);
  });

  it('loses no request and applies none twice while the stream leader is killed and restarted', async () => {
    const sent = [...(await batch('before', 15))];

    // Kill the node that leads the request stream (the hardest one to lose), mid-traffic.
    const leader = nodeOf((await jsm.streams.info(config.NATS_STREAM)).cluster?.leader);
    expect([1, 2, 3]).toContain(leader);
    const during = batch('during', 15);
    stack('nats-node', 'kill', String(leader));
    killed = leader;
    sent.push(...(await during));
    // A new stream leader among the two left, and requests keep coming.
    await eventually(async () => {
      const info = await jsm.streams.info(config.NATS_STREAM).catch(() => undefined);
      const now = nodeOf(info?.cluster?.leader);
      return now && now !== leader ? now : undefined;
    }, 60_000);
    sent.push(...(await batch('down', 15)));

    stack('nats-node', 'start', String(leader));
    killed = undefined;
    // The restarted node catches up: every replica current again.
    await eventually(async () => {
      const info = await jsm.streams.info(config.NATS_STREAM).catch(() => undefined);
      const replicas = info?.cluster?.replicas ?? [];
      return replicas.length === 2 && replicas.every((r) => r.current && !r.offline);
    }, 60_000);
    sent.push(...(await batch('after', 15)));

    // None lost: all 60 end SUCCESS.
    const records = await Promise.all(sent.map((s) => settled(app!.apiUrl!, s.requestId, 120_000)));
    expect(records.filter((r) => r.status !== 'SUCCESS')).toEqual([]);

    // None applied twice: one write per Deployment reached Kubernetes (its create, a
    // server-side apply that can only create), so no request was carried out again.
    const deploymentsPath = new RegExp(`/namespaces/${ns}/deployments(/([^/?]+))?(\\?|$)`);
    const writes = new Map<string, number>();
    for (const h of proxy.hits) {
      const name = deploymentsPath.exec(h.path)?.[2];
      if (name && h.method !== 'GET') writes.set(name, (writes.get(name) ?? 0) + 1);
    }
    expect(writes).toEqual(new Map(sent.map((s) => [s.name, 1])));
    const listed = await apps.listNamespacedDeployment({ namespace: ns });
    expect(listed.items).toHaveLength(sent.length);
    for (const d of listed.items) {
      expect(d.metadata?.generation).toBe(1);
      expect(d.metadata?.annotations?.['k8s-deployment-manager.io/request-id']).toBe(
        sent.find((s) => s.name === d.metadata?.name)?.requestId,
      );
    }
  });
});
