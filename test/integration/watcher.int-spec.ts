import { PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import type { Running } from '../../src/bootstrap.js';
import { MirrorSyncService } from '../../src/deployments/mirror-sync.service.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { DeploymentWatcher } from '../../src/watcher/deployment-watcher.service.js';
import { compactEtcd } from '../support/etcd.js';
import { useSuite } from '../support/fixture.js';
import { eventually, kube, uniqueId } from '../support/harness.js';

const MANAGED = { 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' };

/** A Deployment as someone outside the manager would create it. */
function deployment(
  name: string,
  o: { replicas?: number; managed?: boolean; neverReady?: boolean; deadline?: number } = {},
): V1Deployment {
  const podLabels: Record<string, string> = {
    app: name,
    ...(o.neverReady ? { 'k8sdm.test/never-ready': 'true' } : {}),
  };
  return {
    metadata: { name, labels: o.managed === false ? { app: name } : { app: name, ...MANAGED } },
    spec: {
      replicas: o.replicas ?? 1,
      ...(o.deadline ? { progressDeadlineSeconds: o.deadline } : {}),
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: podLabels }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
    },
  };
}

// Changes made outside the manager (straight to kube-apiserver) reach the mirror. The
// generous waits are for a loaded machine; the resync interval is far longer than any
// wait, so only the watch (or the relist under test) can have made a change visible.
describe('watcher: the deployments mirror', () => {
  const ns = `wt-${uniqueId()}`;
  const { apps } = kube();
  const suite = useSuite({
    namespaces: [ns],
    createNamespaces: true,
    env: { ROLE: 'watcher', MANAGED_NAMESPACES: ns, WATCHER_LIST_PAGE_SIZE: '2', WATCHER_RESYNC_MS: '3600000' },
  });
  const pool = suite.pool;

  const row = async (name: string) =>
    (await pool.query('SELECT * FROM deployments WHERE namespace = $1 AND name = $2', [ns, name])).rows[0];
  const start = () => suite.start();
  const stop = () => suite.stop();
  const relists = async (app: Running, reason: string) =>
    (await app.app.get(MetricsService).watcherRelists.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

  it('mirrors out-of-band create, scale and delete, and ignores unmanaged Deployments', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('oob', { replicas: 1 }) });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('foreign', { managed: false }) });
    const created = await eventually(async () => row('oob'), 10_000, 50);
    expect(created).toMatchObject({
      uid: expect.any(String),
      desired_replicas: 1,
      images: ['nginx:1.27'],
      deleted_at: null,
    });
    expect(created.labels).toMatchObject(MANAGED);
    expect(created.spec).toMatchObject({ image: 'nginx:1.27', replicas: 1 });

    await apps.patchNamespacedDeploymentScale(
      { namespace: ns, name: 'oob', body: { spec: { replicas: 3 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const scaled = await eventually(
      async () => {
        const r = await row('oob');
        return r?.desired_replicas === 3 ? r : undefined;
      },
      10_000,
      50,
    );
    expect(BigInt(scaled.resource_version)).toBeGreaterThan(BigInt(created.resource_version));

    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'oob' });
    const deleted = await eventually(
      async () => {
        const r = await row('oob');
        return r?.deleted_at ? r : undefined;
      },
      10_000,
      50,
    );
    expect(deleted.uid).toBe(created.uid);

    // The managed one was seen long after the unmanaged one was created.
    expect(await row('foreign')).toBeUndefined();
  });

  it('treats a recreated Deployment (new uid) as the row again, no longer deleted', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('phoenix') });
    const first = await eventually(async () => row('phoenix'), 10_000, 50);
    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'phoenix' });
    await eventually(async () => (await row('phoenix'))?.deleted_at, 10_000, 50);
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('phoenix') });
    const again = await eventually(
      async () => {
        const r = await row('phoenix');
        return r && r.deleted_at === null ? r : undefined;
      },
      10_000,
      50,
    );
    expect(again.uid).not.toBe(first.uid);
  });

  it('reflects a create and a delete made while the watcher was stopped', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('doomed') });
    await eventually(async () => row('doomed'), 10_000, 50);
    await stop();

    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('while-down') });
    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'doomed' });
    expect(await row('while-down')).toBeUndefined();
    expect((await row('doomed')).deleted_at).toBeNull();

    await start();
    await eventually(async () => row('while-down'), 15_000, 100);
    expect(await eventually(async () => (await row('doomed'))?.deleted_at, 15_000, 100)).toBeInstanceOf(Date);
  });

  it('on 410 Gone (restarting from a compacted resourceVersion) relists and applies the diff', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('kept') });
    await eventually(async () => row('kept'), 10_000, 50);
    await stop();

    // Make the mirror wrong in all three ways, and point the saved position far into the past.
    await pool.query(`DELETE FROM deployments WHERE namespace = $1 AND name = 'kept'`, [ns]);
    await pool.query(
      `INSERT INTO deployments (namespace, name, uid, desired_replicas, generation, resource_version, rollout)
       VALUES ($1, 'invented', gen_random_uuid(), 1, 1, '2', 'AVAILABLE')`,
      [ns],
    );
    await pool.query(
      `UPDATE deployments SET desired_replicas = 42, resource_version = '3' WHERE namespace = $1 AND name = 'while-down'`,
      [ns],
    );
    const saved = await pool.query(`UPDATE watcher_state SET resource_version = '1' WHERE scope LIKE $1`, [
      `% ns=${ns} %`,
    ]);
    expect(saved.rowCount).toBe(1);
    // A fresh etcd still has resourceVersion 1: compact it away, so the watch answers 410 now,
    // not only once the apiserver's own compaction has run (every 5 minutes).
    await compactEtcd();

    const app = await start();
    await eventually(async () => (await relists(app, 'gone')) >= 1, 15_000, 100);
    await eventually(async () => (await row('kept'))?.deleted_at === null, 10_000, 100);
    expect((await row('invented')).deleted_at).toBeInstanceOf(Date);
    expect((await row('while-down')).desired_replicas).toBe(1);
    const state = await pool.query(`SELECT * FROM watcher_state WHERE scope LIKE $1`, [`% ns=${ns} %`]);
    expect(BigInt(state.rows[0].resource_version)).toBeGreaterThan(3n);
    expect(state.rows[0].last_relist_reason).toBe('gone');
  });

  it('derives rollout AVAILABLE with Ready pods, and FAILED when pods never become Ready past the deadline', async () => {
    // Observed well inside its 10 s deadline, the stuck rollout is still PROGRESSING.
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: deployment('stuck', { replicas: 1, neverReady: true, deadline: 10 }),
    });
    expect((await eventually(async () => row('stuck'), 5_000, 50)).rollout).toBe('PROGRESSING');

    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('rolls', { replicas: 2 }) });
    const available = await eventually(async () => {
      const r = await row('rolls');
      return r?.rollout === 'AVAILABLE' ? r : undefined;
    }, 60_000);
    expect(available).toMatchObject({ ready_replicas: 2, available_replicas: 2, updated_replicas: 2 });

    const failed = await eventually(
      async () => {
        const r = await row('stuck');
        return r?.rollout === 'FAILED' ? r : undefined;
      },
      90_000,
      500,
    );
    expect(failed.ready_replicas).toBe(0);
    expect(failed.conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }),
      ]),
    );
  });

  it('keeps the position and leader in watcher_state and reports them in readiness', async () => {
    const state = (await pool.query(`SELECT * FROM watcher_state WHERE scope LIKE $1`, [`% ns=${ns} %`])).rows[0];
    const readiness = suite.app.app.get(DeploymentWatcher).readiness();
    expect(readiness.data).toMatchObject({ leader: true, streams: [expect.objectContaining({ phase: 'watching' })] });
    expect(state.leader_identity).toBe((readiness.data as { identity: string }).identity);
    expect(state.last_event_at).toBeInstanceOf(Date);
    const health = (await (await fetch(`${suite.app.healthUrl}/readyz`)).json()) as any;
    expect(health.info.watcher).toMatchObject({ status: 'up', leader: true });
  });
});

// What the reconciler's mirror repair calls: the same list-and-diff, with no watcher running.
describe('MirrorSyncService.resync without a watcher', () => {
  const ns = `ws-${uniqueId()}`;
  const { apps, core } = kube();
  // A pattern: the cluster-wide list, filtered, and the pattern form of the deletion scope.
  const suite = useSuite({ namespaces: [ns], boot: false, env: { ROLE: 'reconciler', MANAGED_NAMESPACES: `${ns}*` } });
  const pool = suite.pool;

  it('inserts the missing, updates the stale and marks the absent, and counts each', async () => {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    for (const name of ['r1', 'r2', 'r3'])
      await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name) });
    // Settled first, so the controller's status updates cannot count as "updated" below.
    await eventually(async () => {
      const list = await apps.listNamespacedDeployment({ namespace: ns });
      return list.items.every(
        (d) => d.status?.availableReplicas === 1 && d.status.observedGeneration === d.metadata?.generation,
      );
    }, 60_000);
    const app = await suite.mirrorContext();
    const sync = app.get(MirrorSyncService);
    expect(await sync.resync()).toEqual({ inserted: 3, updated: 0, markedDeleted: 0, total: 3 });
    expect(await sync.resync()).toEqual({ inserted: 0, updated: 0, markedDeleted: 0, total: 3 });

    await pool.query(`DELETE FROM deployments WHERE namespace = $1 AND name = 'r1'`, [ns]);
    await pool.query(
      `UPDATE deployments SET desired_replicas = 9, resource_version = '1' WHERE namespace = $1 AND name = 'r2'`,
      [ns],
    );
    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'r3' });
    expect(await sync.resync()).toEqual({ inserted: 1, updated: 1, markedDeleted: 1, total: 2 });
    const rows = (
      await pool.query(
        'SELECT name, desired_replicas, deleted_at FROM deployments WHERE namespace = $1 ORDER BY name',
        [ns],
      )
    ).rows;
    expect(rows.map((r) => [r.name, r.desired_replicas, r.deleted_at !== null])).toEqual([
      ['r1', 1, false],
      ['r2', 1, false],
      ['r3', 1, true],
    ]);
  });
});
