import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { db, deleteNamespace, eventually, kube, testConfig, uniqueId, freePort } from '../support/harness.js';

const MAIN = 'dist/src/main.js';

interface Watcher {
  child: ChildProcess;
  port: number;
  output: () => string;
}

async function startWatcher(env: Record<string, string>): Promise<Watcher> {
  const port = await freePort();
  let out = '';
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env, ROLE: 'watcher', HEALTH_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, port, output: () => out };
}

/** 1 or 0 from the process's own leader gauge; undefined while it is not answering. */
async function leaderGauge(w: Watcher): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text();
    const m = /^dm_watcher_leader (\d+)/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

// Two watcher processes as operators run them: one leads, and when it is killed (no
// graceful shutdown, so only PostgreSQL noticing the dead session frees the lock) the
// standby takes over and the mirror keeps following Kubernetes.
describe('watcher leader election', () => {
  const ns = `wf-${uniqueId()}`;
  const { apps, core } = kube();
  const pool = db();
  const config = testConfig();
  const watchers: Watcher[] = [];

  const mirrored = (name: string) =>
    eventually(
      async () =>
        (await pool.query('SELECT 1 FROM deployments WHERE namespace = $1 AND name = $2', [ns, name])).rowCount,
      30_000,
    );
  const create = (name: string) =>
    apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name, labels: { app: name, 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' } },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
          },
        },
      },
    });

  afterAll(async () => {
    for (const w of watchers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await pool.end();
    await deleteNamespace(ns);
  });

  it('has exactly one leader, and the standby takes over when the leader is killed', async () => {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const env = { DATABASE_URL: config.DATABASE_URL, MANAGED_NAMESPACES: ns, LEADER_POLL_MS: '500', LOG_LEVEL: 'warn' };
    watchers.push(await startWatcher(env), await startWatcher(env));

    const gauges = async () => Promise.all(watchers.map(leaderGauge));
    await eventually(async () => {
      const g = await gauges();
      return g.every((v) => v !== undefined) && g.filter((v) => v === 1).length === 1;
    }, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${watchers.map((w) => w.output()).join('\n---\n')}`);
    });
    // Still exactly one after several more poll rounds of both.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 400));
      expect((await gauges()).filter((v) => v === 1)).toHaveLength(1);
    }

    await create('before');
    await mirrored('before');

    const g = await gauges();
    const leader = watchers[g.indexOf(1)];
    const standby = watchers[g.indexOf(0)];
    leader.child.kill('SIGKILL');
    await once(leader.child, 'exit');

    await eventually(async () => (await leaderGauge(standby)) === 1, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${standby.output()}`);
    });
    await create('after');
    await mirrored('after');
    const state = await pool.query(`SELECT leader_identity FROM watcher_state WHERE scope LIKE $1`, [`% ns=${ns} %`]);
    expect(state.rows[0].leader_identity).toContain(`/${standby.child.pid}/`);

    standby.child.kill('SIGTERM');
    await once(standby.child, 'exit');
  });
});
