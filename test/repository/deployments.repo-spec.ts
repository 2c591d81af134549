import { randomUUID } from 'node:crypto';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { DeploymentEntity } from '../../src/deployments/deployment.entity.js';
import { DeploymentsRepository } from '../../src/deployments/deployments.repository.js';
import type { MirrorRow } from '../../src/deployments/mirror-row.mapper.js';
import { mirrorRow } from '../support/mirror-row.js';
import { WatcherStateEntity } from '../../src/watcher/watcher-state.entity.js';
import { WatcherStateRepository } from '../../src/watcher/watcher-state.repository.js';
import { uniqueId } from '../support/harness.js';
import { repositoryModule } from '../support/repository-module.js';

describe('DeploymentsRepository and WatcherStateRepository (PostgreSQL)', () => {
  let module: TestingModule;
  let repo: DeploymentsRepository;
  let state: WatcherStateRepository;
  const id = uniqueId();

  beforeAll(async () => {
    ({ module } = await repositoryModule(
      [DeploymentEntity, WatcherStateEntity],
      [DeploymentsRepository, WatcherStateRepository],
    ));
    repo = module.get(DeploymentsRepository);
    state = module.get(WatcherStateRepository);
  });

  afterAll(() => module?.close());

  /** A namespace of this test's own. */
  const namespace = (what: string) => `repo-${id}-${what}`;

  const row = (ns: string, name: string, resourceVersion: string, over: Partial<MirrorRow> = {}): MirrorRow =>
    mirrorRow(ns, name, { resourceVersion, ...over });

  const stored = async (ns: string, name: string) => (await repo.findOne(ns, name))!;

  describe('resourceVersion-guarded upserts', () => {
    it('never lets an older or equal version overwrite a newer one, whatever order they arrive in', async () => {
      const ns = namespace('order');
      const uid = randomUUID();
      expect(await repo.upsertMany([row(ns, 'web', '200', { uid, images: ['web:2'] })])).toEqual({
        inserted: 1,
        updated: 0,
      });
      // 100 < 200 as integers, though "100" > "20" as text; 99 is shorter.
      expect(await repo.upsertMany([row(ns, 'web', '100', { uid, images: ['web:1'] })])).toEqual({
        inserted: 0,
        updated: 0,
      });
      expect(await repo.upsertMany([row(ns, 'web', '99', { uid, images: ['web:0'] })])).toEqual({
        inserted: 0,
        updated: 0,
      });
      expect(await repo.upsertMany([row(ns, 'web', '200', { uid, images: ['web:same-rv'] })])).toEqual({
        inserted: 0,
        updated: 0,
      });
      let d = await stored(ns, 'web');
      expect([d.resourceVersion, d.images]).toEqual(['200', ['web:2']]);

      expect(await repo.upsertMany([row(ns, 'web', '1000', { uid, images: ['web:3'] })])).toEqual({
        inserted: 0,
        updated: 1,
      });
      d = await stored(ns, 'web');
      expect([d.resourceVersion, d.images]).toEqual(['1000', ['web:3']]);
    });

    it('keeps the newest of several versions of one object sent in one batch', async () => {
      const ns = namespace('batch');
      await repo.upsertMany([row(ns, 'a', '7'), row(ns, 'a', '12', { images: ['a:12'] }), row(ns, 'a', '9')]);
      expect((await stored(ns, 'a')).resourceVersion).toBe('12');
      expect((await stored(ns, 'a')).images).toEqual(['a:12']);
    });

    it('replaces the uid when a newer version belongs to a recreated object, and not when an older one does', async () => {
      const ns = namespace('uid');
      const first = randomUUID();
      const recreated = randomUUID();
      await repo.upsertMany([row(ns, 'web', '10', { uid: first })]);
      await repo.upsertMany([row(ns, 'web', '10', { uid: first, deleted: true })]);
      await repo.upsertMany([row(ns, 'web', '11', { uid: first, deleted: true })]);
      let d = await stored(ns, 'web');
      expect(d.deletedAt).not.toBeNull();

      await repo.upsertMany([row(ns, 'web', '20', { uid: recreated })]);
      d = await stored(ns, 'web');
      expect([d.uid, d.resourceVersion, d.deletedAt]).toEqual([recreated, '20', null]);

      // A late event of the first object (older version) does not bring its uid back.
      await repo.upsertMany([row(ns, 'web', '15', { uid: first })]);
      expect((await stored(ns, 'web')).uid).toBe(recreated);
    });

    it('replaces a row whatever version it holds when the list is authoritative (another cluster, rewound history)', async () => {
      const ns = namespace('auth');
      await repo.upsertMany([row(ns, 'web', '5000')]);
      expect(await repo.upsertMany([row(ns, 'web', '3', { images: ['web:restored'] })])).toEqual({
        inserted: 0,
        updated: 0,
      });
      expect(await repo.upsertMany([row(ns, 'web', '3', { images: ['web:restored'] })], true)).toEqual({
        inserted: 0,
        updated: 1,
      });
      expect((await stored(ns, 'web')).resourceVersion).toBe('3');
    });
  });

  describe('writeBasis', () => {
    it("answers the worker's basis for a write: version, uid, whether ours, whether deleted, and the spec", async () => {
      const ns = namespace('basis');
      const uid = randomUUID();
      const managed = { 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' };
      const spec = { image: 'web:1', replicas: 2, env: { MODE: 'fast' } };
      await repo.upsertMany([
        row(ns, 'ours', '12345678901', { uid, labels: managed, spec, generation: 3 }),
        row(ns, 'theirs', '7', { labels: { app: 'theirs' } }),
        row(ns, 'gone', '8', { labels: managed, deleted: true }),
      ]);
      expect(await repo.writeBasis(ns, 'ours')).toEqual({
        uid,
        resourceVersion: '12345678901',
        generation: 3,
        managed: true,
        deleted: false,
        spec,
      });
      expect(await repo.writeBasis(ns, 'theirs')).toMatchObject({ managed: false, deleted: false });
      expect(await repo.writeBasis(ns, 'gone')).toMatchObject({ managed: true, deleted: true });
      expect(await repo.writeBasis(ns, 'never')).toBeNull();
    });
  });

  describe('liveSpecs', () => {
    it('walks the live rows in (namespace, name) pages after a keyset cursor, leaving deleted ones out', async () => {
      const ns = namespace('live-specs');
      await repo.upsertMany(
        ['e', 'a', 'd', 'b'].map((n) => row(ns, n, '10', { spec: { image: `${n}:1`, replicas: 1 } })),
      );
      await repo.upsertMany([row(ns, 'c', '10', { deleted: true })]);
      const seen: string[][] = [];
      let after: [string, string] = [ns, ''];
      for (;;) {
        const page = (await repo.liveSpecs(after, 2)).filter((r) => r.namespace === ns);
        if (!page.length) break;
        seen.push(page.map((r) => `${r.name}=${r.spec?.image}`));
        after = [ns, page[page.length - 1].name];
      }
      expect(seen).toEqual([
        ['a=a:1', 'b=b:1'],
        ['d=d:1', 'e=e:1'],
      ]);
    });
  });

  describe('markAbsentDeleted', () => {
    it('marks only live rows of the resynced namespace that the list lacked and that are not newer than it', async () => {
      const ns = namespace('scope');
      const other = namespace('scope-other');
      await repo.upsertMany([
        row(ns, 'listed', '50'),
        row(ns, 'gone', '60'),
        row(ns, 'newer-than-list', '150'),
        row(other, 'gone', '60'),
      ]);
      const marked = await repo.markAbsentDeleted(
        { key: `k-${id}-ns`, namespace: ns },
        [{ namespace: ns, name: 'listed' }],
        '100',
      );
      expect(marked).toBe(1);
      const gone = await stored(ns, 'gone');
      expect([gone.deletedAt !== null, gone.resourceVersion]).toEqual([true, '100']);
      expect((await stored(ns, 'listed')).deletedAt).toBeNull();
      expect((await stored(ns, 'newer-than-list')).deletedAt).toBeNull();
      // Another namespace is another scope's business.
      expect((await stored(other, 'gone')).deletedAt).toBeNull();
    });

    it('with patterns, marks only rows of namespaces the patterns match', async () => {
      const prefix = namespace('pat');
      const exact = namespace('exact');
      const outside = namespace('outside');
      await repo.upsertMany([row(`${prefix}-1`, 'gone', '10'), row(exact, 'gone', '10'), row(outside, 'gone', '10')]);
      const marked = await repo.markAbsentDeleted({ key: `k-${id}-pat`, patterns: [`${prefix}-*`, exact] }, [], '100');
      expect(marked).toBe(2);
      expect((await stored(`${prefix}-1`, 'gone')).deletedAt).not.toBeNull();
      expect((await stored(exact, 'gone')).deletedAt).not.toBeNull();
      expect((await stored(outside, 'gone')).deletedAt).toBeNull();
    });

    it('marks every absent row of the scope, newer ones too, when the list is authoritative', async () => {
      const ns = namespace('scope-auth');
      await repo.upsertMany([row(ns, 'newer', '900')]);
      expect(await repo.markAbsentDeleted({ key: `k-${id}-auth`, namespace: ns }, [], '100')).toBe(0);
      expect(await repo.markAbsentDeleted({ key: `k-${id}-auth`, namespace: ns }, [], '100', true)).toBe(1);
      expect((await stored(ns, 'newer')).deletedAt).not.toBeNull();
    });
  });

  describe('markDrifted', () => {
    it('keeps a managedFields time, and stamps a manager without one when it appears or a field it owns changes', async () => {
      const ns = namespace('times');
      const uid = randomUUID();
      const owners = { replicas: ['kubectl-scale'] };
      const times = { ours: '2026-11-28T07:30:00.000Z', 'kubectl-scale': null };
      await repo.upsertMany([row(ns, 'web', '10', { uid, fieldOwners: owners, managerTimes: times })]);
      const first = (await stored(ns, 'web')).managerTimes;
      expect(first.ours).toBe('2026-11-28T07:30:00.000Z');
      expect(Date.parse((first['kubectl-scale'] as { seenAt: string }).seenAt)).not.toBeNaN();
      // An old stamp, so that keeping it and stamping anew tell apart without a clock.
      const seen = '2000-01-01T00:00:00.000Z';
      await module.get(DataSource).query(
        `UPDATE deployments SET manager_times = jsonb_set(manager_times, '{kubectl-scale}', $3::jsonb)
           WHERE namespace = $1 AND name = $2`,
        [ns, 'web', JSON.stringify({ seenAt: seen })],
      );

      // A change of a field kubectl-scale does not own (the image) keeps its stamp.
      await repo.upsertMany([
        row(ns, 'web', '11', {
          uid,
          fieldOwners: owners,
          managerTimes: times,
          spec: { image: 'nginx:1.28', replicas: 1 },
        }),
      ]);
      expect((await stored(ns, 'web')).managerTimes['kubectl-scale']).toEqual({ seenAt: seen });

      // A change of replicas, which it owns, stamps it again.
      await repo.upsertMany([
        row(ns, 'web', '12', {
          uid,
          fieldOwners: owners,
          managerTimes: times,
          spec: { image: 'nginx:1.28', replicas: 3 },
        }),
      ]);
      const again = (await stored(ns, 'web')).managerTimes['kubectl-scale'] as { seenAt: string };
      expect(again.seenAt).not.toBe(seen);
      expect(Date.parse(again.seenAt)).not.toBeNaN();
    });

    it('sets drifted on exactly the named rows, clears it elsewhere, and leaves unjudged rows as they were', async () => {
      const ns = namespace('drift');
      await repo.upsertMany([row(ns, 'a', '1'), row(ns, 'b', '1'), row(ns, 'c', '1'), row(ns, 'd', '1')]);
      await repo.markDrifted([
        { namespace: ns, name: 'a' },
        { namespace: ns, name: 'c' },
      ]);
      const flags = async () =>
        Promise.all(['a', 'b', 'c', 'd'].map(async (n) => [n, (await stored(ns, n)).drifted] as const));
      expect(await flags()).toEqual([
        ['a', true],
        ['b', false],
        ['c', true],
        ['d', false],
      ]);

      // Next pass: b drifted, a repaired, c skipped (a request in flight) keeps its flag.
      await repo.markDrifted([{ namespace: ns, name: 'b' }], [{ namespace: ns, name: 'c' }]);
      expect(await flags()).toEqual([
        ['a', false],
        ['b', true],
        ['c', true],
        ['d', false],
      ]);

      // An upsert from the watcher never touches the reconciler's flag.
      await repo.upsertMany([row(ns, 'b', '2')]);
      expect((await stored(ns, 'b')).drifted).toBe(true);
    });
  });

  describe('WatcherStateRepository', () => {
    it('moves a scope position only forward, unless a relist resets it', async () => {
      const scope = `repo-${id}-state`;
      await state.recordPosition(scope, '500', new Date());
      await state.recordPosition(scope, '90', new Date());
      expect((await state.find(scope))!.resourceVersion).toBe('500');
      await state.recordRelist(scope, '400', 'expired');
      expect((await state.find(scope))!.resourceVersion).toBe('500');
      await state.recordRelist(scope, '1000', 'expired');
      expect((await state.find(scope))!.resourceVersion).toBe('1000');
      await state.recordRelist(scope, '7', 'another cluster', 'uid-2', true);
      const s = (await state.find(scope))!;
      expect([s.resourceVersion, s.clusterUid, s.lastRelistReason]).toEqual(['7', 'uid-2', 'another cluster']);
    });

    it('knows no freshness until every scope asked for has synced', async () => {
      const a = `repo-${id}-fresh-a`;
      const b = `repo-${id}-fresh-b`;
      const at = new Date('2030-01-01T00:00:00Z');
      await state.recordPosition(a, '10', at);
      expect(await state.freshness([a, b])).toEqual({ syncedAt: null, lastEventAt: null });
      await state.recordPosition(b, '10', new Date('2030-01-01T00:01:00Z'));
      expect(await state.freshness([a, b])).toEqual({ syncedAt: at, lastEventAt: at });
    });
  });
});
