import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Running } from '../../src/bootstrap.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { KubeFaultProxy } from '../support/fault-proxy.js';
import {
  appEnv,
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
} from '../support/harness.js';

/** Every output line of the role processes a test starts, in the order they reached the test. */
interface Line {
  who: string;
  text: string;
}

class Processes {
  readonly lines: Line[] = [];
  private readonly children: ChildProcess[] = [];

  start(who: string, env: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn(process.execPath, ['dist/src/main.js'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.on('data', (d: Buffer) => {
        const parts = (rest + d.toString()).split('\n');
        rest = parts.pop()!;
        for (const text of parts) this.lines.push({ who, text });
      });
    }
    this.children.push(child);
    return child;
  }

  /** A marker line of the test's own, in the same sequence. */
  mark(text: string) {
    this.lines.push({ who: 'test', text });
  }

  indexOf(who: string, pattern: RegExp, from = 0): number {
    return this.lines.findIndex((l, i) => i >= from && l.who === who && pattern.test(l.text));
  }

  waitFor(who: string, pattern: RegExp, timeoutMs = 60_000): Promise<number> {
    return eventually(async () => {
      const i = this.indexOf(who, pattern);
      return i >= 0 ? i + 1 : undefined;
    }, timeoutMs)
      .then((i) => i - 1)
      .catch((e: Error) => {
        throw new Error(`${who}: no line matching ${pattern}: ${e.message}\n${this.dump()}`);
      });
  }

  dump(): string {
    return this.lines.map((l) => `${l.who}| ${l.text}`).join('\n');
  }

  killAll() {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

const exited = async (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? { code: child.exitCode, signal: child.signalCode }
    : once(child, 'exit').then(([code, signal]) => ({ code, signal }));

// SIGTERM as Kubernetes sends it to a pod being replaced: each role ends its work within
// SHUTDOWN_TIMEOUT_MS and exits 0, and nothing it held is lost.
describe('graceful shutdown', () => {
  const { apps, core } = kube();
  const pool = db();
  const procs = new Processes();
  const cleanups: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    procs.killAll();
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await pool.end();
  });

  it('a worker SIGTERMed under load finishes the request it holds, takes no other, exits 0; every request ends SUCCESS once', async () => {
    const ns = `gs-${uniqueId()}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    cleanups.push(() => deleteNamespace(ns));
    const config: AppConfig = testConfig({ ROLE: 'api', MANAGED_NAMESPACES: ns, CREATE_NAMESPACES: 'false' });
    cleanups.push(() => dropTopology(config));
    const api: Running = await boot(config);
    cleanups.push(() => api.close());
    // Worker A's first apply is held in its proxy until the test lets it go: A is mid-request when SIGTERM comes.
    const proxyA = await new KubeFaultProxy().start();
    cleanups.push(() => proxyA.stop());
    let releaseHeld!: () => void;
    proxyA.inject({
      method: 'PATCH',
      path: /\/deployments\//,
      times: 1,
      holdUntil: new Promise<void>((r) => (releaseHeld = r)),
    });
    const workerEnv = (kubeconfig: string) =>
      appEnv(config, {
        ROLE: 'worker',
        KUBECONFIG: kubeconfig,
        LOG_LEVEL: 'log',
        SHUTDOWN_TIMEOUT_MS: '20000',
        // One request in hand at a time: then "no apply after SIGTERM" is exact, not a race
        // with a second loop that was already mid-request when the signal came.
        WORKER_CONCURRENCY: '1',
      });
    const a = procs.start('A', workerEnv(proxyA.kubeconfigPath));
    procs.start('B', workerEnv(process.env.KUBECONFIG!));
    await procs.waitFor('A', /consuming /);
    await procs.waitFor('B', /consuming /);

    const names = Array.from({ length: 40 }, (_, i) => `web-${i}`);
    const ids: string[] = [];
    for (const name of names) {
      const r = await http(api.apiUrl!, 'POST', '/v1/deployments', {
        namespace: ns,
        name,
        image: 'nginx:1.27',
        replicas: 1,
      });
      expect(r.status).toBe(202);
      ids.push(r.body.requestId);
    }
    await eventually(async () => proxyA.late.length === 1, 60_000);
    const heldName = /\/deployments\/([^/?]+)/.exec(proxyA.late[0].path)![1];

    const patches = () => proxyA.hits.filter((h) => h.method === 'PATCH').length;
    const patchesAtSigterm = patches();
    procs.mark('SIGTERM A');
    a.kill('SIGTERM');
    await procs.waitFor('A', /SIGTERM: shutting down/);
    // Still running: it waits for the request in its hands.
    expect(a.exitCode).toBeNull();
    releaseHeld();
    const end = await exited(a);
    expect(end).toEqual({ code: 0, signal: null });
    expect(procs.indexOf('A', /shut down cleanly/)).toBeGreaterThan(procs.indexOf('test', /SIGTERM A/));

    const records = await Promise.all(ids.map((id) => settled(api.apiUrl!, id, 120_000)));
    expect(records.map((r) => r.status)).toEqual(ids.map(() => 'SUCCESS'));
    // The held request was finished by A, in that one attempt: not handed to B and applied again.
    expect(records.find((r) => r.name === heldName)).toMatchObject({ status: 'SUCCESS', attempts: 1 });
    // Applied once each: one generation, and the annotation of the one request.
    const listed = await apps.listNamespacedDeployment({ namespace: ns });
    expect(listed.items.map((d) => d.metadata!.name).sort()).toEqual([...names].sort());
    for (const d of listed.items) {
      expect(d.metadata?.generation).toBe(1);
      expect(d.metadata?.annotations?.['k8s-deployment-manager.io/request-id']).toBe(
        ids[names.indexOf(d.metadata!.name!)],
      );
    }
    // After SIGTERM, A started no other apply: B did the rest.
    expect(patches()).toBe(patchesAtSigterm);
  });

  it('a watcher leader SIGTERMed releases the lock and the standby leads before its next poll', async () => {
    const ns = `gsw-${uniqueId()}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    cleanups.push(() => deleteNamespace(ns));
    const config = testConfig({ MANAGED_NAMESPACES: ns });
    // A long poll interval: a standby that waited for its poll would take 30 s and log a timer poll first.
    const env = appEnv(config, { ROLE: 'watcher', LEADER_POLL_MS: '30000', LOG_LEVEL: 'debug' });
    const leader = procs.start('L', env);
    await procs.waitFor('L', /is now the leader/);
    const standby = procs.start('S', env);
    await procs.waitFor('S', /standing by: another watcher holds the lock/);

    procs.mark('SIGTERM L');
    leader.kill('SIGTERM');
    const led = await procs.waitFor('S', /is now the leader \(acquired the lock: the leader released the lock\)/);
    const sigterm = procs.indexOf('test', /SIGTERM L/);
    // Order of events: SIGTERM, the leader stops its streams and releases, the standby leads,
    // and no scheduled poll of the standby came in between (less than one interval passed).
    expect(led).toBeGreaterThan(sigterm);
    const timerPoll = procs.indexOf('S', /leader poll \(timer\)/);
    expect(timerPoll === -1 || timerPoll > led).toBe(true);
    expect(procs.indexOf('L', /stepped down \(shutting down\)/)).toBeGreaterThan(sigterm);
    expect(await exited(leader)).toEqual({ code: 0, signal: null });
    expect(procs.indexOf('L', /released the leader lock/)).toBeGreaterThan(sigterm);

    // The new leader records itself and mirrors what changes from now on.
    const state = await pool.query(`SELECT leader_identity FROM watcher_state WHERE scope LIKE $1`, [`% ns=${ns} %`]);
    expect(state.rows[0].leader_identity).toContain(`/${standby.pid}/`);
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'after', labels: { app: 'after', 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' } },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'after' } },
          template: {
            metadata: { labels: { app: 'after' } },
            spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
          },
        },
      },
    });
    await eventually(
      async () =>
        (await pool.query('SELECT 1 FROM deployments WHERE namespace = $1 AND name = $2', [ns, 'after'])).rowCount,
      30_000,
    );
    standby.kill('SIGTERM');
    expect(await exited(standby)).toEqual({ code: 0, signal: null });
  });
});
