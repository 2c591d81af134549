import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { AppConfig } from '../../src/config/app-config.js';
import { ReconcilerService } from '../../src/reconciler/reconciler.service.js';
import { PASS_LOCK_KEY } from '../../src/reconciler/reconcile-runs.repository.js';
import { KubeFaultProxy, TcpCutProxy } from '../support/fault-proxy.js';
import { boot, db, eventually, http, kube, settled, testConfig, uniqueId, appEnv } from '../support/harness.js';
import { useSuite } from '../support/fixture.js';

// The reconciler on the real stack. No watcher runs here, so the mirror changes only when a pass repairs it.
describe('reconciler', () => {
  const ns = `rc-${uniqueId()}`;
  const { apps } = kube();
  const pool = db();
  let reconciler: ReconcilerService;
  const suite = useSuite({
    namespaces: [ns],
    env: {
      ROLE: 'api,worker,reconciler',
      MANAGED_NAMESPACES: ns,
      RECONCILE_CRON: '0 0 1 1 *',
      RECONCILE_STUCK_CREATED_MS: '0',
      // The test's HPA stand-in, beside the HPA controller's own manager.
      MANAGED_ELSEWHERE_FIELD_MANAGERS: 'kube-controller-manager,hpa-stand-in',
    },
  });

  beforeAll(async () => {
    reconciler = suite.app.app.get(ReconcilerService);
  });

  afterAll(async () => {
    await pool.end();
  });

  async function createAndWait(name: string, replicas = 1, extra: Record<string, unknown> = {}) {
    const r = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name,
      image: 'nginx:1.27',
      replicas,
      ...extra,
    });
    expect((await settled(suite.api, r.body.requestId)).status).toBe('SUCCESS');
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
    expect(first.inserted).toBe(3);
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

    const stored = await http(suite.api, 'GET', `/v1/admin/reconcile-runs/${run.id}`);
    expect(stored.body).toMatchObject({ id: run.id, inserted: 1, updated: 1, markedDeleted: 1, status: 'SUCCEEDED' });
  });

  it('publishes a request left CREATED while NATS was down and no relay ran', async () => {
    const natsUrl = new URL(suite.config.NATS_URL.replace('nats://', 'http://'));
    const proxy = await new TcpCutProxy({ host: natsUrl.hostname, port: Number(natsUrl.port) }).start();
    const intake = await boot({
      ...suite.config,
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
      expect((await settled(suite.api, r.body.requestId)).status).toBe('SUCCESS');
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
    expect(await settled(suite.api, expired)).toMatchObject({ status: 'FAILURE', error: { code: 'DeadlineExceeded' } });
    expect(await settled(suite.api, abandoned)).toMatchObject({ status: 'SUCCESS', attempts: 2 });
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'abandoned' })).spec?.replicas).toBe(1);
  });

  /** Drift nobody else owns: someone deletes the env we set (kubectl edit); its fields go with it. */
  async function createWithEnvThenDropIt(name: string) {
    await createAndWait(name, 1, { env: { A: '1' } });
    await apps.patchNamespacedDeployment(
      { namespace: ns, name, body: [{ op: 'remove', path: '/spec/template/spec/containers/0/env' }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
  }
  const liveEnv = async (name: string) =>
    (await apps.readNamespacedDeployment({ namespace: ns, name })).spec?.template?.spec?.containers?.[0]?.env;
  const healRequestsFor = async (name: string) =>
    (
      await pool.query(
        `SELECT request_id, status FROM deployment_requests WHERE namespace = $1 AND name = $2 AND idempotency_key LIKE 'heal:%'`,
        [ns, name],
      )
    ).rows;
  async function withSelfHeal<T>(fn: () => Promise<T>): Promise<T> {
    Object.assign(suite.config, { SELF_HEAL: true });
    try {
      return await fn();
    } finally {
      Object.assign(suite.config, { SELF_HEAL: false });
    }
  }

  /** When `manager` last changed the live object, as Kubernetes recorded it in managedFields. */
  async function managerTime(name: string, manager: string): Promise<string> {
    const d = await apps.readNamespacedDeployment({ namespace: ns, name });
    const times = (d.metadata?.managedFields ?? [])
      .filter((e) => e.manager === manager && e.time)
      .map((e) => new Date(e.time!).toISOString())
      .sort();
    expect(times.length).toBeGreaterThan(0);
    return times[times.length - 1];
  }

  it('reports a kubectl scale with its field manager and time, in the list of drifted ones and the detail, in scope only', async () => {
    await createAndWait('scaled', 2);
    // What `kubectl scale --replicas=3` sends: a patch of the scale subresource as field manager kubectl-scale.
    await apps.patchNamespacedDeploymentScale(
      { namespace: ns, name: 'scaled', fieldManager: 'kubectl-scale', body: { spec: { replicas: 3 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const run = await withSelfHeal(() => reconciler.runOnce());
    expect(run.details.drifted).toContainEqual({ namespace: ns, name: 'scaled', fields: ['replicas'] });
    expect(run.details.ownedDrift).toContainEqual({
      namespace: ns,
      name: 'scaled',
      field: 'replicas',
      manager: 'kubectl-scale',
    });
    expect(await healRequestsFor('scaled')).toEqual([]);

    // The scale subresource records no managedFields time: the mirror stamps when it saw the change,
    // and no watcher runs here, so that is this pass's mirror repair.
    const detail = await http(suite.api, 'GET', `/v1/deployments/${ns}/scaled`);
    const changedAt = detail.body.deployment.drift.fields[0].managers[0].changedAt;
    expect(Date.parse(changedAt)).toBeGreaterThanOrEqual(run.startedAt!.getTime());
    expect(Date.parse(changedAt)).toBeLessThanOrEqual(run.finishedAt!.getTime());
    const drift = {
      checkedAt: run.startedAt!.toISOString(),
      fields: [{ field: 'replicas', managers: [{ manager: 'kubectl-scale', changedAt }] }],
      managedElsewhere: [],
    };
    expect(detail.body.deployment).toMatchObject({ drifted: true, drift });
    const listed = await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}&drifted=true`);
    expect(listed.body.items.find((d: { name: string }) => d.name === 'scaled')?.drift).toEqual(drift);

    // Scope still applies: a reader of another namespace sees neither the row nor its drift.
    const key = await http(suite.api, 'POST', '/v1/api-keys', {
      name: `other-${uniqueId()}`,
      role: 'reader',
      namespaces: [`${ns}-other`],
    });
    const other = { authorization: `Bearer ${key.body.key}` };
    expect((await http(suite.api, 'GET', '/v1/deployments?drifted=true', undefined, other)).body.items).toEqual([]);
    expect((await http(suite.api, 'GET', `/v1/deployments/${ns}/scaled`, undefined, other)).status).toBe(404);
  });

  it('lists replicas applied by a manager standing in for an HPA as managedElsewhere, not drift, and never heals them', async () => {
    await createAndWait('drifty', 2);
    // An HPA stand-in: server-side apply of replicas under a manager in MANAGED_ELSEWHERE_FIELD_MANAGERS, forced.
    await apps.patchNamespacedDeployment(
      {
        namespace: ns,
        name: 'drifty',
        fieldManager: 'hpa-stand-in',
        force: true,
        body: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'drifty', namespace: ns },
          spec: { replicas: 4 },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
    const changedAt = await managerTime('drifty', 'hpa-stand-in');
    const run = await reconciler.runOnce();
    const stored = (await http(suite.api, 'GET', `/v1/admin/reconcile-runs/${run.id}`)).body;
    expect(stored.driftedDeployments).not.toContainEqual(expect.objectContaining({ name: 'drifty' }));
    expect(stored.ownedDrift).not.toContainEqual(expect.objectContaining({ name: 'drifty' }));
    expect(stored.managedElsewhere).toEqual([
      { namespace: ns, name: 'drifty', field: 'replicas', manager: 'hpa-stand-in' },
    ]);
    expect((await mirrorRow('drifty')).drifted).toBe(false);
    const listed = await http(suite.api, 'GET', `/v1/deployments?namespace=${ns}&drifted=true`);
    expect(listed.body.items.map((d: { name: string }) => d.name)).not.toContain('drifty');
    const detail = await http(suite.api, 'GET', `/v1/deployments/${ns}/drifty`);
    expect(detail.body.deployment).toMatchObject({
      drifted: false,
      drift: { fields: [], managedElsewhere: [{ field: 'replicas', manager: 'hpa-stand-in', changedAt }] },
    });

    const healing = await withSelfHeal(() => reconciler.runOnce());
    expect(healing.status).toBe('SUCCEEDED');
    expect(healing.details.healRequests).toEqual([]);
    expect(healing.details.managedElsewhere).toContainEqual({
      namespace: ns,
      name: 'drifty',
      field: 'replicas',
      manager: 'hpa-stand-in',
    });
    expect(await healRequestsFor('drifty')).toEqual([]);
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'drifty' })).spec?.replicas).toBe(4);
  });

  it('heals the fields nobody else owns and leaves replicas managed elsewhere as they are', async () => {
    await createAndWait('mixed', 2, { env: { A: '1' } });
    await apps.patchNamespacedDeployment(
      {
        namespace: ns,
        name: 'mixed',
        fieldManager: 'hpa-stand-in',
        force: true,
        body: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'mixed', namespace: ns },
          spec: { replicas: 5 },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
    await apps.patchNamespacedDeployment(
      { namespace: ns, name: 'mixed', body: [{ op: 'remove', path: '/spec/template/spec/containers/0/env' }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    const healing = await withSelfHeal(() => reconciler.runOnce());
    expect(healing.details.drifted).toContainEqual({ namespace: ns, name: 'mixed', fields: ['env'] });
    const [heal] = await healRequestsFor('mixed');
    const healed = await settled(suite.api, heal.request_id);
    expect(healed.status).toBe('SUCCESS');
    // A PATCH of env alone: a whole-spec heal would have put replicas back to 2.
    expect(healed.spec).toEqual({ env: { A: '1' } });
    const live = await apps.readNamespacedDeployment({ namespace: ns, name: 'mixed' });
    expect(live.spec?.template?.spec?.containers?.[0]?.env).toEqual([{ name: 'A', value: '1' }]);
    expect(live.spec?.replicas).toBe(5);
  });

  it('heals a field no other manager owns with SELF_HEAL, then reports no drift', async () => {
    await createWithEnvThenDropIt('healme');
    const healing = await withSelfHeal(() => reconciler.runOnce());
    expect(healing.details.drifted).toContainEqual({ namespace: ns, name: 'healme', fields: ['env'] });
    const [heal] = await healRequestsFor('healme');
    expect(healing.details.healRequests).toContain(heal.request_id);
    expect(await settled(suite.api, heal.request_id)).toMatchObject({ status: 'SUCCESS', operation: 'UPDATE' });
    expect(await liveEnv('healme')).toEqual([{ name: 'A', value: '1' }]);
    const after = await reconciler.runOnce();
    expect(after.details.drifted ?? []).not.toContainEqual(expect.objectContaining({ name: 'healme' }));
    expect((await mirrorRow('healme')).drifted).toBe(false);
  });

  it('does not judge a deployment with an open request, or one completed after the pass began', async () => {
    await createWithEnvThenDropIt('busy-open');
    await createWithEnvThenDropIt('busy-done');
    const spec = JSON.stringify({ image: 'nginx:1.27', replicas: 1, env: { A: '1' } });
    const open = `open-${uniqueId()}`;
    // Stand-ins for a request in flight and one finishing while the pass runs (the same spec as desired).
    await pool.query(
      `INSERT INTO deployment_requests (request_id, operation, namespace, name, spec, spec_mode, body_hash, status,
         updated_at, deadline_at)
       VALUES ($1, 'UPDATE', $2, 'busy-open', $3, 'REPLACE', repeat('0', 64), 'QUEUED', now(), now() + interval '1 hour')`,
      [open, ns, spec],
    );
    await pool.query(
      `INSERT INTO deployment_requests (request_id, operation, namespace, name, spec, spec_mode, body_hash, status,
         updated_at, completed_at, deadline_at)
       VALUES ($1, 'UPDATE', $2, 'busy-done', $3, 'REPLACE', repeat('0', 64), 'SUCCESS',
         now(), now() + interval '1 hour', now() + interval '1 hour')`,
      [`done-${uniqueId()}`, ns, spec],
    );
    try {
      const run = await withSelfHeal(() => reconciler.runOnce());
      expect(run.details.skipped).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ namespace: ns, name: 'busy-open' }),
          expect.objectContaining({ namespace: ns, name: 'busy-done' }),
        ]),
      );
      expect(run.details.drifted).not.toContainEqual(expect.objectContaining({ name: 'busy-open' }));
      expect(run.details.drifted).not.toContainEqual(expect.objectContaining({ name: 'busy-done' }));
      expect(await healRequestsFor('busy-open')).toEqual([]);
      expect(await healRequestsFor('busy-done')).toEqual([]);
      expect(await liveEnv('busy-open')).toBeUndefined();
    } finally {
      await pool.query(
        `UPDATE deployment_requests SET status = 'FAILURE', completed_at = now() WHERE request_id = $1`,
        [open],
      );
    }
  });

  it('queues one heal for one drift, however many passes find it (stable Idempotency-Key)', async () => {
    await createWithEnvThenDropIt('heal-once');
    // A reconciler whose heals no worker consumes (its own stream), so the first heal can be
    // made to end FAILURE deterministically; the drift then stays for the second pass.
    const lone = await boot(testConfig({ ROLE: 'reconciler', MANAGED_NAMESPACES: ns, SELF_HEAL: 'true' }));
    try {
      const loneReconciler = lone.app.get(ReconcilerService);
      const first = await loneReconciler.runOnce();
      expect(first.details.drifted).toContainEqual({ namespace: ns, name: 'heal-once', fields: ['env'] });
      const [heal] = await healRequestsFor('heal-once');
      // The heal's Idempotency-Key is stable; its requestId is a fresh UUID like every other.
      expect(heal.request_id).toMatch(/^[0-9a-f-]{36}$/);
      await pool.query(
        `UPDATE deployment_requests SET status = 'FAILURE', error_code = 'Invalid', completed_at = now() WHERE request_id = $1`,
        [heal.request_id],
      );

      const second = await loneReconciler.runOnce();
      expect(second.details.drifted).toContainEqual({ namespace: ns, name: 'heal-once', fields: ['env'] });
      expect(second.details.healRequests).toEqual([]);
      expect(await healRequestsFor('heal-once')).toEqual([{ request_id: heal.request_id, status: 'FAILURE' }]);
    } finally {
      await lone.close();
    }
  });

  it('heals nothing when the pass could not repair the mirror', async () => {
    await createWithEnvThenDropIt('stale-mirror');
    const seen = await reconciler.runOnce();
    expect(seen.details.drifted).toContainEqual({ namespace: ns, name: 'stale-mirror', fields: ['env'] });
    const proxy = await new KubeFaultProxy().start();
    proxy.inject({ method: 'GET', path: /\/apis\/apps\/v1\/(namespaces\/[^/]+\/)?deployments\?/, status: 503 });
    const blind = await boot(
      testConfig({ ROLE: 'reconciler', MANAGED_NAMESPACES: ns, SELF_HEAL: 'true', KUBECONFIG: proxy.kubeconfigPath }),
    );
    try {
      const run = await blind.app.get(ReconcilerService).runOnce();
      expect(run.status).toBe('FAILED');
      expect(run.error).toMatch(/^mirror: /);
      expect(run.details.drifted).toContainEqual({ namespace: ns, name: 'stale-mirror', fields: ['env'] });
      expect(run.healed).toBe(0);
      expect(run.details.healSkipped).toMatch(/mirror repair failed/);
      expect(await healRequestsFor('stale-mirror')).toEqual([]);
      expect(proxy.hits.some((h) => h.injected)).toBe(true);
    } finally {
      await blind.close();
      await proxy.stop();
    }
  });

  it('runs a manual pass asked for through the API', async () => {
    const r = await http(suite.api, 'POST', '/v1/admin/reconcile');
    expect(r.status).toBe(202);
    expect(typeof r.body.runId).toBe('number');
    const run = await eventually(async () => {
      const got = await http(suite.api, 'GET', `/v1/admin/reconcile-runs/${r.body.runId}`);
      return got.body.status === 'SUCCEEDED' ? got.body : undefined;
    }, 60_000);
    expect(run.trigger).toBe('manual');
    const list = await http(suite.api, 'GET', '/v1/admin/reconcile-runs?limit=1');
    expect(list.body.items[0].id).toBe(r.body.runId);
    expect((await http(suite.api, 'GET', '/v1/admin/reconcile-runs/999999999')).status).toBe(404);
  });

  it('never lets two reconcilers run passes at the same time', async () => {
    const other = await boot({ ...suite.config, roles: ['reconciler'], ROLE: 'reconciler' } as AppConfig);
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
      env: appEnv(suite.config, { ROLE: 'reconciler', RECONCILE_ONCE: 'true' }),
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
