import type { V1Deployment } from '@kubernetes/client-node';
import type { INestApplicationContext } from '@nestjs/common';
import { MirrorSyncService } from '../../src/deployments/mirror-sync.service.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { useSuite } from '../support/fixture.js';
import { eventually, kube, uniqueId } from '../support/harness.js';

const MANAGED = { 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' };
const FAR_AHEAD = '999999999999';

function deployment(name: string): V1Deployment {
  return {
    metadata: { name, labels: { app: name, ...MANAGED } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
    },
  };
}

/**
 * The database pointed at a restored etcd or another cluster: the stored resourceVersions
 * belong to another history. Each test makes the mirror look like that, then checks that
 * one pass brings it back to what Kubernetes holds.
 */
describe('mirror across etcd histories (restored etcd, another cluster, malformed resourceVersions)', () => {
  const ns = `mh-${uniqueId()}`;
  const { apps, core } = kube();
  const suite = useSuite({
    namespaces: [ns],
    createNamespaces: true,
    boot: false,
    env: { ROLE: 'reconciler', MANAGED_NAMESPACES: ns, WATCHER_RESYNC_MS: '3600000' },
  });
  const pool = suite.pool;
  let ctx: INestApplicationContext;
  let sync: MirrorSyncService;

  const rows = async () =>
    (
      await pool.query(
        `SELECT name, desired_replicas, resource_version, deleted_at IS NOT NULL AS deleted
         FROM deployments WHERE namespace = $1 ORDER BY name`,
        [ns],
      )
    ).rows as { name: string; desired_replicas: number; resource_version: string; deleted: boolean }[];
  const state = async () =>
    (await pool.query(`SELECT * FROM watcher_state WHERE scope LIKE $1`, [`% ns=${ns} %`])).rows[0];
  const kubeSystemUid = async () => (await core.readNamespace({ name: 'kube-system' })).metadata!.uid!;

  /** Rows and position from "another history": versions far above the cluster's, a row Kubernetes never had. */
  async function seedForeignHistory(opts: { position: string; clusterUid?: string }) {
    await pool.query(
      `UPDATE deployments SET desired_replicas = 42, resource_version = $2 WHERE namespace = $1 AND name IN ('a', 'b')`,
      [ns, FAR_AHEAD],
    );
    await pool.query(
      `INSERT INTO deployments (namespace, name, uid, desired_replicas, generation, resource_version, rollout)
       VALUES ($1, 'ghost', gen_random_uuid(), 1, 1, $2, 'AVAILABLE')
       ON CONFLICT (namespace, name) DO UPDATE SET deleted_at = NULL, resource_version = EXCLUDED.resource_version`,
      [ns, FAR_AHEAD],
    );
    const updated = await pool.query(
      `UPDATE watcher_state SET resource_version = $2, cluster_uid = coalesce($3, cluster_uid) WHERE scope LIKE $1`,
      [`% ns=${ns} %`, opts.position, opts.clusterUid ?? null],
    );
    expect(updated.rowCount).toBe(1);
  }

  function expectRecovered(got: Awaited<ReturnType<typeof rows>>) {
    expect(got.map((r) => [r.name, r.desired_replicas, r.deleted])).toEqual([
      ['a', 1, false],
      ['b', 1, false],
      ['ghost', 1, true],
    ]);
    for (const r of got) expect(BigInt(r.resource_version)).toBeLessThan(BigInt(FAR_AHEAD));
  }

  beforeAll(async () => {
    for (const name of ['a', 'b']) await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name) });
    ctx = await suite.mirrorContext();
    sync = ctx.get(MirrorSyncService);
    await sync.resync();
  });

  it('restored etcd: one resync takes the list as authoritative, marks absent rows deleted and resets the position', async () => {
    await seedForeignHistory({ position: FAR_AHEAD });

    const r = await sync.resync();

    expect(r.resets).toEqual([{ scope: expect.stringContaining(ns), reason: 'history_rewound' }]);
    expect(r.markedDeleted).toBe(1);
    expectRecovered(await rows());
    const s = await state();
    expect(BigInt(s.resource_version)).toBeLessThan(BigInt(FAR_AHEAD));
    expect(s.cluster_uid).toBe(await kubeSystemUid());
    // Back to ordinary guarded diffs: nothing left to repair, no second reset.
    expect(await sync.resync()).toEqual({ inserted: 0, updated: 0, markedDeleted: 0, total: 2 });
  });

  it('another cluster (kube-system uid differs): the list replaces the mirror even where versions look older', async () => {
    // Positions below the list's, so only the cluster identity can tell.
    await seedForeignHistory({ position: '2', clusterUid: '00000000-0000-4000-8000-000000000000' });

    const r = await sync.resync();

    expect(r.resets).toEqual([{ scope: expect.stringContaining(ns), reason: 'cluster_changed' }]);
    expectRecovered(await rows());
    expect((await state()).cluster_uid).toBe(await kubeSystemUid());
  });

  it('a starting watcher resumes no saved position from another history: it relists and recovers', async () => {
    await seedForeignHistory({ position: FAR_AHEAD });
    const watcher = await suite.extraApp({ ROLE: 'watcher' });
    try {
      await eventually(async () => {
        const got = await rows();
        return got.every((r) => r.desired_replicas === 1) && got.find((r) => r.name === 'ghost')?.deleted;
      }, 30_000);
      expectRecovered(await rows());
      const s = await eventually(async () => {
        const st = await state();
        return BigInt(st.resource_version) < BigInt(FAR_AHEAD) ? st : undefined;
      }, 15_000);
      expect(s.cluster_uid).toBe(await kubeSystemUid());
      // And the watch runs again from the reset position: a new Deployment reaches the mirror.
      await apps.createNamespacedDeployment({ namespace: ns, body: deployment('c') });
      await eventually(async () => (await rows()).find((r) => r.name === 'c' && !r.deleted), 15_000);
    } finally {
      await watcher.close();
      await apps.deleteNamespacedDeployment({ namespace: ns, name: 'c' }).catch(() => undefined);
    }
  });

  it('a malformed resourceVersion in a row or the saved position is reported and replaced, not a crash', async () => {
    await pool.query(
      `UPDATE deployments SET resource_version = 'abc', desired_replicas = 7 WHERE namespace = $1 AND name = 'a'`,
      [ns],
    );
    await pool.query(
      `UPDATE deployments SET resource_version = '01', desired_replicas = 7 WHERE namespace = $1 AND name = 'b'`,
      [ns],
    );
    await pool.query(`UPDATE watcher_state SET resource_version = 'abc' WHERE scope LIKE $1`, [`% ns=${ns} %`]);
    const metrics = ctx.get(MetricsService);
    const before = (await metrics.invalidResourceVersions.get()).values.reduce((n, v) => n + v.value, 0);

    const r = await sync.resync();

    expect(r.invalidResourceVersions).toBe(3);
    const after = (await metrics.invalidResourceVersions.get()).values;
    expect(after.reduce((n, v) => n + v.value, 0) - before).toBe(3);
    const got = await rows();
    expect(got.filter((x) => x.name !== 'ghost' && x.name !== 'c').map((x) => [x.name, x.desired_replicas])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    for (const x of got) expect(x.resource_version).toMatch(/^[1-9][0-9]*$/);
    expect((await state()).resource_version).toMatch(/^[1-9][0-9]*$/);
  });
});
