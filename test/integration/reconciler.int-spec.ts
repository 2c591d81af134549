import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Running } from '../../src/bootstrap.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { ReconcilerService } from '../../src/reconciler/reconciler.service.js';
import { PASS_LOCK_KEY } from '../../src/reconciler/reconcile-runs.repository.js';
import { TcpCutProxy } from '../support/fault-proxy.js';
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

// The reconciler on the real stack. No watcher runs here, so the mirror changes only when a pass repairs it.
describe('reconciler', () => {
  const ns = `rc-${uniqueId()}`;
  const { apps } = kube();
  const pool = db();
  let config: AppConfig;
  let app: Running;
  let api: string;
  let reconciler: ReconcilerService;

  beforeAll(async () => {
    config = testConfig({
      ROLE: 'api,worker,reconciler',
      MANAGED_NAMESPACES: ns,
      RECONCILE_CRON: '0 0 1 1 *',
      RECONCILE_STUCK_CREATED_MS: '0',
    });
    app = await boot(config);
    api = app.apiUrl!;
    reconciler = app.app.get(ReconcilerService);
  });

  afterAll(async () => {
    await app?.close();
    await pool.end();
    await dropTopology(config);
    await deleteNamespace(ns);
  });

  async function createAndWait(name: string, replicas = 1) {
    const r = await http(api, 'POST', '/v1/deployments', { namespace: ns, name, image: 'nginx:1.27', replicas });
    expect((await settled(api, r.body.requestId)).status).toBe('SUCCESS');
    await eventually(async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name });
      return (
        d.status?.availableReplicas === replicas ||
        (replicas === 0 && d.status?.observedGeneration === d.metadata?.generation)
      );
    }, 60_000);
    return r.body.requestId as string;
  }

  const mirrorRow = async (name: string) =>
    (await pool.query('SELECT * FROM deployments WHERE namespace = $1 AND name = $2', [ns, name])).rows[0];

  it('repairs a deleted, a changed and an invented mirror row in one pass, and records the counts', async () => {
    await createAndWait('m-keep');
    await createAndWait('m-gone');
    await createAndWait('m-stale');
    const first = await reconciler.runOnce();
    expect(first.status).toBe('SUCCEEDED');
    expect(first.inserted).toBeGreaterThanOrEqual(3);
    expect(await mirrorRow('m-gone')).toBeDefined();

    await pool.query(`DELETE FROM deployments WHERE namespace = $1 AND name = 'm-gone'`, [ns]);
    await pool.query(
      `UPDATE deployments SET desired_replicas = 42, resource_version = '1' WHERE namespace = $1 AND name = 'm-stale'`,
      [ns],
    );
    await pool.query(
      `INSERT INTO deployments (namespace, name, uid, desired_replicas, generation, resource_version, rollout)
       VALUES ($1, 'm-invented', gen_random_uuid(), 1, 1, '1', 'AVAILABLE')`,
      [ns],
    );

    const run = await reconciler.runOnce();
    expect(run).toMatchObject({ status: 'SUCCEEDED', trigger: 'once', inserted: 1, updated: 1, markedDeleted: 1 });
    expect((await mirrorRow('m-gone')).deleted_at).toBeNull();
    expect((await mirrorRow('m-stale')).desired_replicas).toBe(1);
    expect((await mirrorRow('m-invented')).deleted_at).not.toBeNull();

    const stored = await http(api, 'GET', `/v1/admin/reconcile-runs/${run.id}`);
    expect(stored.body).toMatchObject({ id: run.id, inserted: 1, updated: 1, markedDeleted: 1, status: 'SUCCEEDED' });
  });

  it('publishes a request left CREATED while NATS was down and no relay ran', async () => {
    const natsUrl = new URL(config.NATS_URL.replace('nats://', 'http://'));
    const proxy = await new TcpCutProxy({ host: natsUrl.hostname, port: Number(natsUrl.port) }).start();
    const intake = await boot({
      ...config,
      roles: ['api'],
      ROLE: 'api',
      NATS_URL: proxy.url,
      OUTBOX_RELAY_INTERVAL_MS: 3_600_000,
    } as AppConfig);
    try {
      proxy.down();
      await eventually(
        async () => (await http(intake.apiUrl!, 'GET', '/readyz')).body?.info?.nats?.status === 'degraded',
        10_000,
      );
      const r = await http(intake.apiUrl!, 'POST', '/v1/deployments', {
        namespace: ns,
        name: 'stuck',
        image: 'nginx:1.27',
        replicas: 1,
      });
      expect(r.body.status).toBe('CREATED');
      const run = await reconciler.runOnce();
      expect(run.republished).toBe(1);
      expect((await settled(api, r.body.requestId)).status).toBe('SUCCESS');
    } finally {
      await intake.close();
      await proxy.stop();
    }
  });

  it('re-drives an abandoned PROCESSING request and fails one past its deadline', async () => {
    const insert = (id: string, name: string, deadline: string) =>
      pool.query(
        `INSERT INTO deployment_requests (request_id, operation, namespace, name, spec, spec_mode, body_hash, status, attempts,
           updated_at, deadline_at)
         VALUES ($1, 'CREATE', $2, $3, '{"image":"nginx:1.27","replicas":1}', 'REPLACE', repeat('0', 64), 'PROCESSING', 1,
           now() - interval '1 hour', ${deadline})`,
        [id, ns, name],
      );
    const abandoned = `abandoned-${uniqueId()}`;
    const expired = `expired-${uniqueId()}`;
    await insert(abandoned, 'abandoned', `now() + interval '1 hour'`);
    await insert(expired, 'expired', `now() - interval '1 minute'`);

    const run = await reconciler.runOnce();
    expect(run.requeued).toBe(1);
    expect(run.failed).toBe(1);
    expect(await settled(api, expired)).toMatchObject({ status: 'FAILURE', error: { code: 'DeadlineExceeded' } });
    expect(await settled(api, abandoned)).toMatchObject({ status: 'SUCCESS', attempts: 2 });
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'abandoned' })).spec?.replicas).toBe(1);
  });

  it('reports a Deployment scaled out of band as drifted, and heals it with SELF_HEAL', async () => {
    await createAndWait('drifty', 2);
    await apps.patchNamespacedDeployment(
      { namespace: ns, name: 'drifty', body: [{ op: 'replace', path: '/spec/replicas', value: 4 }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    const run = await reconciler.runOnce();
    expect(run.drifted).toBeGreaterThanOrEqual(1);
    const detail = (await http(api, 'GET', `/v1/admin/reconcile-runs/${run.id}`)).body;
    expect(detail.driftedDeployments).toContainEqual({ namespace: ns, name: 'drifty', fields: ['replicas'] });
    expect((await mirrorRow('drifty')).drifted).toBe(true);
    const listed = await http(api, 'GET', `/v1/deployments?namespace=${ns}&drifted=true`);
    expect(listed.body.items.map((d: { name: string }) => d.name)).toEqual(['drifty']);
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'drifty' })).spec?.replicas).toBe(4);

    Object.assign(config, { SELF_HEAL: true });
    try {
      const healing = await reconciler.runOnce();
      expect(healing.healed).toBe(1);
      const healRequest = (await http(api, 'GET', `/v1/admin/reconcile-runs/${healing.id}`)).body.healRequests[0];
      expect(await settled(api, healRequest)).toMatchObject({ status: 'SUCCESS', operation: 'UPDATE' });
      expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'drifty' })).spec?.replicas).toBe(2);
    } finally {
      Object.assign(config, { SELF_HEAL: false });
    }
    const after = await reconciler.runOnce();
    expect(after.details.drifted ?? []).not.toContainEqual(expect.objectContaining({ name: 'drifty' }));
    expect((await mirrorRow('drifty')).drifted).toBe(false);
  });

  it('runs a manual pass asked for through the API', async () => {
    const r = await http(api, 'POST', '/v1/admin/reconcile');
    expect(r.status).toBe(202);
    expect(typeof r.body.runId).toBe('number');
    const run = await eventually(async () => {
      const got = await http(api, 'GET', `/v1/admin/reconcile-runs/${r.body.runId}`);
      return got.body.status === 'SUCCEEDED' ? got.body : undefined;
    }, 60_000);
    expect(run.trigger).toBe('manual');
    const list = await http(api, 'GET', '/v1/admin/reconcile-runs?limit=1');
    expect(list.body.items[0].id).toBe(r.body.runId);
    expect((await http(api, 'GET', '/v1/admin/reconcile-runs/999999999')).status).toBe(404);
  });

  it('never lets two reconcilers run passes at the same time', async () => {
    const other = await boot({ ...config, roles: ['reconciler'], ROLE: 'reconciler' } as AppConfig);
    try {
      const second = other.app.get(ReconcilerService);
      const runs = await Promise.all([reconciler.runOnce(), second.runOnce(), reconciler.runOnce(), second.runOnce()]);
      const spans = runs
        .map((r) => [r.startedAt!.getTime(), r.finishedAt!.getTime()] as const)
        .sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
      // A scheduled pass that finds another in progress skips instead of waiting.
      const holder = await pool.connect();
      try {
        await holder.query('SELECT pg_advisory_lock($1)', [PASS_LOCK_KEY]);
        expect(await second.runScheduled()).toBeUndefined();
      } finally {
        await holder.query('SELECT pg_advisory_unlock($1)', [PASS_LOCK_KEY]);
        holder.release();
      }
      expect((await second.runScheduled())?.status).toBe('SUCCEEDED');
    } finally {
      await other.close();
    }
  });

  it('RECONCILE_ONCE=true runs one pass and exits 0', async () => {
    const child: ChildProcess = spawn(process.execPath, ['dist/src/main.js'], {
      env: appEnv(config, { ROLE: 'reconciler', RECONCILE_ONCE: 'true' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const [code] = await once(child, 'exit');
    expect(out).toMatch(/reconcile run \d+ SUCCEEDED/);
    expect(code).toBe(0);
    const last = await pool.query(`SELECT trigger, status FROM reconcile_runs ORDER BY id DESC LIMIT 1`);
    expect(last.rows[0]).toEqual({ trigger: 'once', status: 'SUCCEEDED' });
  });
});
