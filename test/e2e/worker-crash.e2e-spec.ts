import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Running } from '../../src/bootstrap.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { KubeFaultProxy } from '../support/fault-proxy.js';
import {
  boot,
  db,
  deleteNamespace,
  dropTopology,
  eventually,
  http,
  kube,
  settled,
  testConfig,
  uniqueId,
  appEnv,
} from '../support/harness.js';

function startWorker(config: AppConfig, kubeconfig: string): ChildProcess {
  const env = appEnv(config, { ROLE: 'worker', KUBECONFIG: kubeconfig, JS_ACK_WAIT_MS: String(config.JS_ACK_WAIT_MS) });
  return spawn(process.execPath, ['dist/src/main.js'], { env, stdio: 'ignore' });
}

// kill -9 of a worker in the middle of a Kubernetes call: the message comes back and the request completes once.
describe('worker crash', () => {
  const ns = `wc-${uniqueId()}`;
  const { apps } = kube();
  const pool = db();
  let proxy: KubeFaultProxy;
  let config: AppConfig;
  let api: Running;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    proxy = await new KubeFaultProxy().start();
    config = testConfig({ ROLE: 'api', MANAGED_NAMESPACES: ns, JS_ACK_WAIT_MS: '2000' });
    api = await boot(config);
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await api?.close();
    await proxy?.stop();
    await pool.end();
    await dropTopology(config);
    await deleteNamespace(ns);
  });

  it('redelivers the message of a killed worker and applies the change once', async () => {
    // The first worker's apply hangs in the proxy long enough to be killed mid-call.
    proxy.inject({ method: 'PATCH', path: /\/deployments\/crash/, delayMs: 60_000 });
    const first = startWorker(config, proxy.kubeconfigPath);
    children.push(first);

    const r = await http(api.apiUrl!, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'crash',
      image: 'nginx:1.27',
      replicas: 2,
    });
    expect(r.status).toBe(202);
    await eventually(
      async () => proxy.hits.some((h) => h.method === 'PATCH' && h.path.includes('/deployments/crash')),
      30_000,
    );
    const during = await http(api.apiUrl!, 'GET', `/v1/requests/${r.body.requestId}`);
    expect(during.body).toMatchObject({ status: 'PROCESSING', attempts: 1 });

    first.kill('SIGKILL');
    await once(first, 'exit');

    const second = startWorker(config, process.env.KUBECONFIG!);
    children.push(second);
    const done = await settled(api.apiUrl!, r.body.requestId, 60_000);
    expect(done).toMatchObject({ status: 'SUCCESS', attempts: 2 });

    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'crash' });
    expect(d.spec?.replicas).toBe(2);
    expect(d.metadata?.generation).toBe(1);
    expect(d.metadata?.annotations?.['k8s-deployment-manager.io/request-id']).toBe(r.body.requestId);
    second.kill('SIGTERM');
    await once(second, 'exit');
  });
});
