import { randomUUID } from 'node:crypto';
import type { TestingModule } from '@nestjs/testing';
import type pg from 'pg';
import {
  DeploymentRequestEntity,
  Operation,
  RequestStatus,
  SpecMode,
} from '../../src/requests/deployment-request.entity.js';
import {
  type NewRequest,
  RequestsRepository,
  TargetLock,
  TargetLockLost,
} from '../../src/requests/requests.repository.js';
import { db, eventually, uniqueId } from '../support/harness.js';
import { repositoryModule } from '../support/repository-module.js';

describe('RequestsRepository (PostgreSQL)', () => {
  let module: TestingModule;
  let applicationName: string;
  let repo: RequestsRepository;
  let pool: pg.Pool;
  const ns = `repo-req-${uniqueId()}`;

  beforeAll(async () => {
    ({ module, applicationName } = await repositoryModule([DeploymentRequestEntity], [RequestsRepository]));
    repo = module.get(RequestsRepository);
    pool = db();
  });

  afterAll(async () => {
    await pool?.end();
    await module?.close();
  });

  /** A fresh deployment name for each test, so tests never see each other's requests. */
  const target = () => `d-${uniqueId()}`;

  async function accept(name: string, namespace = ns): Promise<DeploymentRequestEntity> {
    const r = await repo.insertIfAbsent({
      requestId: randomUUID(),
      operation: Operation.UPDATE,
      namespace,
      name,
      spec: { replicas: 1 },
      specMode: SpecMode.MERGE,
      bodyHash: 'h',
      deadlineMs: 600_000,
      requestedBy: { keyId: null, name: 'test' },
      idempotencyKey: null,
    });
    return r!;
  }

  /** Test setup only: puts a request straight into a status, as a finished worker would have. */
  async function setStatus(requestId: string, status: RequestStatus) {
    const finished = status === RequestStatus.SUCCESS || status === RequestStatus.FAILURE;
    await pool.query(
      `UPDATE deployment_requests SET status = $2, completed_at = CASE WHEN $3 THEN now() END WHERE request_id = $1`,
      [requestId, status, finished],
    );
  }

  const statusOf = async (requestId: string) => (await repo.findById(requestId))!.status;

  /** Runs fn holding the deployment's lock; fails the test when the lock is not free. */
  async function withLock<T>(name: string, fn: (lock: TargetLock) => Promise<T>): Promise<T> {
    const res = await repo.tryWithTargetLock(ns, name, fn);
    if (!res.acquired) throw new Error(`lock of ${ns}/${name} was not free`);
    return res.value;
  }

  describe('claim order', () => {
    it('claims the oldest open request of the deployment first, and the next one only once it has ended', async () => {
      const name = target();
      const [a, b, c] = [await accept(name), await accept(name), await accept(name)];
      // An older request of another deployment is not this deployment's to claim.
      const other = await accept(target());
      expect(other.seq).toBeGreaterThan(0);

      const order = await withLock(name, async (lock) => {
        const ids: string[] = [];
        for (let claim = await lock.claimOldestOpen(); claim.kind === 'claimed'; claim = await lock.claimOldestOpen()) {
          ids.push(claim.request.requestId);
          expect(claim.request.status).toBe(RequestStatus.PROCESSING);
          expect(claim.request.attempts).toBe(1);
          await lock.succeed(claim.request.requestId, { generation: 1, resourceVersion: '1' });
        }
        return ids;
      });
      expect(order).toEqual([a.requestId, b.requestId, c.requestId]);
      expect(await statusOf(other.requestId)).toBe(RequestStatus.CREATED);
    });

    it('skips finished requests and re-claims an open PROCESSING head (a crashed attempt) before newer ones', async () => {
      const name = target();
      const done = await accept(name);
      const head = await accept(name);
      const newer = await accept(name);
      await setStatus(done.requestId, RequestStatus.FAILURE);
      await setStatus(head.requestId, RequestStatus.PROCESSING);

      const claim = await withLock(name, (lock) => lock.claimOldestOpen());
      expect(claim.kind).toBe('claimed');
      expect(claim.kind === 'claimed' && claim.request.requestId).toBe(head.requestId);
      expect(await statusOf(newer.requestId)).toBe(RequestStatus.CREATED);
      expect(await statusOf(done.requestId)).toBe(RequestStatus.FAILURE);
    });

    it('lets the head wait for its retry time without letting a newer request overtake it', async () => {
      const name = target();
      const head = await accept(name);
      const newer = await accept(name);
      const claim = await withLock(name, async (lock) => {
        await lock.claimOldestOpen();
        await lock.noteAttemptError(head.requestId, 'KubernetesUnavailable', 'apiserver said 503', 60_000);
        return lock.claimOldestOpen();
      });
      expect(claim.kind).toBe('waiting');
      if (claim.kind !== 'waiting') return;
      expect(claim.requestId).toBe(head.requestId);
      expect(claim.waitMs).toBeGreaterThan(0);
      expect(claim.waitMs).toBeLessThanOrEqual(60_000);
      expect(await statusOf(newer.requestId)).toBe(RequestStatus.CREATED);

      // Once the retry time has come, the same head is claimed again, for its second attempt.
      const again = await withLock(name, async (lock) => {
        await lock.noteAttemptError(head.requestId, 'KubernetesUnavailable', 'apiserver said 503', 0);
        return lock.claimOldestOpen();
      });
      expect(again.kind === 'claimed' && [again.request.requestId, again.request.attempts]).toEqual([
        head.requestId,
        2,
      ]);
    });

    it('answers none when the deployment has no open request', async () => {
      const name = target();
      const r = await accept(name);
      await setStatus(r.requestId, RequestStatus.SUCCESS);
      expect(await withLock(name, (lock) => lock.claimOldestOpen())).toEqual({ kind: 'none', mirrored: false });
    });
  });

  describe('group-committed intake', () => {
    const newRequest = (name: string, extra: Partial<NewRequest> = {}): NewRequest => ({
      requestId: randomUUID(),
      operation: Operation.CREATE,
      namespace: ns,
      name,
      spec: { image: 'nginx:1.27', replicas: 1 },
      specMode: SpecMode.REPLACE,
      bodyHash: 'h',
      deadlineMs: 600_000,
      requestedBy: { keyId: null, name: 'test' },
      idempotencyKey: null,
      ...extra,
    });

    /** Rows written by one statement share its transaction id. */
    const transactionsOf = async (requestIds: string[]) =>
      Number(
        (
          await pool.query<{ n: string }>(
            `SELECT count(DISTINCT xmin::text) AS n FROM deployment_requests WHERE request_id = ANY($1)`,
            [requestIds],
          )
        ).rows[0].n,
      );

    it('writes concurrent submissions in one INSERT, each caller getting its own committed row, in submission order', async () => {
      const names = [target(), target(), target(), target(), target()];
      const sent = names.map((n) => newRequest(n));
      const rows = await Promise.all(sent.map((r) => repo.insertIfAbsent(r)));
      expect(rows.map((r) => [r?.requestId, r?.name, r?.status])).toEqual(
        sent.map((r) => [r.requestId, r.name, RequestStatus.CREATED]),
      );
      expect(await transactionsOf(sent.map((r) => r.requestId))).toBe(1);
      const seqs = rows.map((r) => r!.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      // Committed by the time the callers hear back: another session sees every row.
      const seen = await pool.query(`SELECT request_id FROM deployment_requests WHERE request_id = ANY($1)`, [
        sent.map((r) => r.requestId),
      ]);
      expect(seen.rowCount).toBe(5);
    });

    it('answers a replay (null) for an Idempotency-Key taken earlier in the same batch or by an earlier row', async () => {
      const key = `idem-${uniqueId()}`;
      const earlierKey = `idem-${uniqueId()}`;
      const byKey = { requestedBy: { keyId: 'k-1', name: 'ci' } };
      const earlier = await repo.insertIfAbsent(newRequest(target(), { ...byKey, idempotencyKey: earlierKey }));
      expect(earlier).not.toBeNull();

      const batch = [
        newRequest(target(), { ...byKey, idempotencyKey: key }),
        newRequest(target(), { ...byKey, idempotencyKey: key }),
        newRequest(target(), { ...byKey, idempotencyKey: earlierKey }),
        // The same key from another API key is another request.
        newRequest(target(), { requestedBy: { keyId: 'k-2', name: 'other' }, idempotencyKey: key }),
        newRequest(target()),
      ];
      const rows = await Promise.all(batch.map((r) => repo.insertIfAbsent(r)));
      expect(rows.map((r) => r?.requestId ?? null)).toEqual([
        batch[0].requestId,
        null,
        null,
        batch[3].requestId,
        batch[4].requestId,
      ]);
      expect(await transactionsOf([batch[0], batch[3], batch[4]].map((r) => r.requestId))).toBe(1);
      expect((await repo.findByIdempotencyKey('k-1', key))!.requestId).toBe(batch[0].requestId);
      expect((await repo.findByIdempotencyKey('k-1', earlierKey))!.requestId).toBe(earlier!.requestId);
    });

    it('fails only the bad submission of a batch; its neighbours commit and nothing of it is written', async () => {
      const good = [newRequest(target()), newRequest(target())];
      // The table's CHECK refuses this spec mode: the multi-row INSERT fails as a whole.
      const bad = newRequest(target(), { specMode: 'PATCH' as SpecMode });
      const outcomes = await Promise.allSettled([good[0], bad, good[1]].map((r) => repo.insertIfAbsent(r)));
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/check constraint/i);
      expect((await repo.findById(good[0].requestId))?.status).toBe(RequestStatus.CREATED);
      expect((await repo.findById(good[1].requestId))?.status).toBe(RequestStatus.CREATED);
      expect(await repo.findById(bad.requestId)).toBeNull();
    });
  });

  describe('guarded status transitions', () => {
    it('never moves a finished request: SUCCESS and FAILURE are written only from an open status', async () => {
      const name = target();
      const succeeded = await accept(name);
      const failed = await accept(name);
      await setStatus(succeeded.requestId, RequestStatus.SUCCESS);
      await setStatus(failed.requestId, RequestStatus.FAILURE);

      await withLock(name, async (lock) => {
        await lock.fail(succeeded.requestId, 'Conflict', 'late failure', false);
        await lock.succeed(failed.requestId, { generation: 9, resourceVersion: '9' });
        await lock.noteAttemptError(succeeded.requestId, 'KubernetesUnavailable', 'late note', 1000);
      });
      await repo.fail(succeeded.requestId, 'DeadlineExceeded', 'late expiry', true);

      const s = (await repo.findById(succeeded.requestId))!;
      expect([s.status, s.errorCode, s.deadLettered, s.retryAt]).toEqual([RequestStatus.SUCCESS, null, false, null]);
      const f = (await repo.findById(failed.requestId))!;
      expect([f.status, f.resultGeneration]).toEqual([RequestStatus.FAILURE, null]);
    });

    it('marks QUEUED only from CREATED: a request a worker already took, or finished, stays where it is', async () => {
      const name = target();
      const created = await accept(name);
      const processing = await accept(name);
      const succeeded = await accept(name);
      await setStatus(processing.requestId, RequestStatus.PROCESSING);
      await setStatus(succeeded.requestId, RequestStatus.SUCCESS);

      expect(await repo.markQueued([created.requestId, processing.requestId, succeeded.requestId])).toBe(1);
      expect(await statusOf(created.requestId)).toBe(RequestStatus.QUEUED);
      expect(await statusOf(processing.requestId)).toBe(RequestStatus.PROCESSING);
      expect(await statusOf(succeeded.requestId)).toBe(RequestStatus.SUCCESS);
    });

    it('bumps the message generation of open requests only', async () => {
      const name = target();
      const open = await accept(name);
      const done = await accept(name);
      await setStatus(done.requestId, RequestStatus.SUCCESS);
      expect(await repo.bumpGeneration(open.requestId)).toBe(open.generation + 1);
      expect(await repo.bumpGeneration(done.requestId)).toBeNull();
    });

    it('reopens for retry only from FAILURE, with a new generation and the failure cleared', async () => {
      const name = target();
      const failed = await accept(name);
      await repo.fail(failed.requestId, 'Forbidden', 'not ours', true);
      const reopened = await repo.reopenForRetry(failed.requestId, 600_000);
      expect(reopened).not.toBeNull();
      expect([
        reopened!.status,
        reopened!.generation,
        reopened!.deadLettered,
        reopened!.errorCode,
        reopened!.completedAt,
      ]).toEqual([RequestStatus.CREATED, failed.generation + 1, false, null, null]);

      // Now CREATED (open): a second retry is refused, as is one of a SUCCESS.
      expect(await repo.reopenForRetry(failed.requestId, 600_000)).toBeNull();
      const succeeded = await accept(target());
      await setStatus(succeeded.requestId, RequestStatus.SUCCESS);
      expect(await repo.reopenForRetry(succeeded.requestId, 600_000)).toBeNull();
      expect(await statusOf(succeeded.requestId)).toBe(RequestStatus.SUCCESS);
    });

    it('refuses a stale retry once a newer request of the deployment succeeded or is open, not when it failed', async () => {
      const name = target();
      const old = await accept(name);
      const newerFailed = await accept(name);
      const newerSucceeded = await accept(name);
      await repo.fail(old.requestId, 'KubernetesUnavailable', 'gave up', true);
      await repo.fail(newerFailed.requestId, 'Forbidden', 'not ours', false);
      await setStatus(newerSucceeded.requestId, RequestStatus.SUCCESS);

      expect((await repo.newerStandingRequest(old))?.requestId).toBe(newerSucceeded.requestId);
      expect(await repo.reopenForRetry(old.requestId, 600_000)).toBeNull();
      expect(await statusOf(old.requestId)).toBe(RequestStatus.FAILURE);

      // A newer request still open blocks it as well.
      const name2 = target();
      const old2 = await accept(name2);
      const newerOpen = await accept(name2);
      await repo.fail(old2.requestId, 'KubernetesUnavailable', 'gave up', true);
      expect((await repo.newerStandingRequest(old2))?.requestId).toBe(newerOpen.requestId);
      expect(await repo.reopenForRetry(old2.requestId, 600_000)).toBeNull();

      // Newer requests that all failed changed nothing: the retry goes ahead.
      const name3 = target();
      const old3 = await accept(name3);
      const newer3 = await accept(name3);
      await repo.fail(old3.requestId, 'KubernetesUnavailable', 'gave up', true);
      await repo.fail(newer3.requestId, 'Forbidden', 'not ours', false);
      expect(await repo.newerStandingRequest(old3)).toBeNull();
      expect((await repo.reopenForRetry(old3.requestId, 600_000))?.status).toBe(RequestStatus.CREATED);
    });
  });

  describe('the deployment lock', () => {
    it('is held by one session at a time: a second try does not wait and does not run', async () => {
      const name = target();
      let inner: unknown;
      await withLock(name, async () => {
        inner = await repo.tryWithTargetLock(ns, name, () => Promise.resolve('ran'));
      });
      expect(inner).toEqual({ acquired: false });
      expect(await repo.tryWithTargetLock(ns, name, () => Promise.resolve('ran'))).toEqual({
        acquired: true,
        value: 'ran',
      });
    });

    /** Advisory locks held by this module's sessions (pooled ones included). */
    const locksHeld = async () =>
      (
        await pool.query(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.locktype = 'advisory' AND a.application_name = $1`,
          [applicationName],
        )
      ).rows[0].n as number;

    it("is tried in the worker's first read of an open request, and not for a finished or missing one", async () => {
      const name = target();
      const r = await accept(name);
      let inner: unknown;
      const first = await repo.tryWithRequestTargetLock(r.requestId, async (lock) => {
        inner = await repo.tryWithTargetLock(ns, name, () => Promise.resolve('ran'));
        return [lock.namespace, lock.name];
      });
      const state = { namespace: ns, name, deadLettered: false, errorCode: null, errorMessage: null };
      expect(first).toEqual({
        state: { ...state, status: RequestStatus.CREATED },
        attempt: { acquired: true, value: [ns, name] },
      });
      expect(inner).toEqual({ acquired: false });

      const fn = () => Promise.reject(new Error('must not run'));
      const busy = await withLock(name, () => repo.tryWithRequestTargetLock(r.requestId, fn));
      expect(busy).toEqual({ state: { ...state, status: RequestStatus.CREATED }, attempt: { acquired: false } });

      await setStatus(r.requestId, RequestStatus.SUCCESS);
      expect(await repo.tryWithRequestTargetLock(r.requestId, fn)).toEqual({
        state: { ...state, status: RequestStatus.SUCCESS },
        attempt: { acquired: false },
      });
      expect(await repo.tryWithRequestTargetLock(randomUUID(), fn)).toEqual({
        state: null,
        attempt: { acquired: false },
      });
      expect(await locksHeld()).toBe(0);
    });

    it('is given back by the claim that finds nothing to claim, in the same statement', async () => {
      const name = target();
      const r = await accept(name);
      const seen = await withLock(name, async (lock) => {
        const claimed = await lock.claimOldestOpen();
        const whileClaimed = await repo.tryWithTargetLock(ns, name, () => Promise.resolve('ran'));
        await lock.succeed(r.requestId, { generation: 1, resourceVersion: '1' });
        const none = await lock.claimOldestOpen();
        const afterNone = await repo.tryWithTargetLock(ns, name, () => Promise.resolve('ran'));
        const fence = await lock.assertHeld().catch((e: unknown) => e);
        return { claimed: claimed.kind, whileClaimed, none, afterNone, fence };
      });
      expect(seen).toMatchObject({
        claimed: 'claimed',
        whileClaimed: { acquired: false },
        none: { kind: 'none', mirrored: false },
        afterNone: { acquired: true, value: 'ran' },
      });
      // Nothing more runs under a lock given back.
      expect(seen.fence).toBeInstanceOf(TargetLockLost);
      expect(await locksHeld()).toBe(0);
    });

    it('fences a lost session: once its backend is gone, every statement throws TargetLockLost and writes nothing', async () => {
      const name = target();
      const r = await accept(name);
      const admin = db(process.env.TEST_DATABASE_URL);
      try {
        const outcome = await withLock(name, async (lock) => {
          const claim = await lock.claimOldestOpen();
          expect(claim.kind).toBe('claimed');
          // The one session of this module holding an advisory lock is the lock's own.
          const { rows } = await admin.query<{ pid: number }>(
            `SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
             WHERE l.locktype = 'advisory' AND a.application_name = $1`,
            [applicationName],
          );
          expect(rows).toHaveLength(1);
          await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
          await eventually(
            async () =>
              (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [rows[0].pid])).rowCount === 0,
          );
          const errors: unknown[] = [];
          await lock.assertHeld().catch((e: unknown) => errors.push(e));
          await lock
            .succeed(r.requestId, { generation: 1, resourceVersion: '1' })
            .catch((e: unknown) => errors.push(e));
          await lock.claimOldestOpen().catch((e: unknown) => errors.push(e));
          return errors;
        });
        expect(outcome).toHaveLength(3);
        for (const e of outcome) expect(e).toBeInstanceOf(TargetLockLost);
      } finally {
        await admin.end();
      }
      // The claim (attempt 1) stands; the success sent on the lost session did not land.
      const after = (await repo.findById(r.requestId))!;
      expect([after.status, after.attempts]).toEqual([RequestStatus.PROCESSING, 1]);
      // PostgreSQL freed the lock with the session: another worker can take it.
      expect((await repo.tryWithTargetLock(ns, name, () => Promise.resolve(true))).acquired).toBe(true);
    });
  });
  describe('successfulSinceLastReplace', () => {
    it('reads only the targets of the given key range, each from its last full spec on, in acceptance order', async () => {
      const space = `repo-req-range-${uniqueId()}`;
      const succeed = async (name: string, operation: Operation, specMode: SpecMode, replicas: number) => {
        const r = await repo.insertIfAbsent({
          requestId: randomUUID(),
          operation,
          namespace: space,
          name,
          spec: { replicas },
          specMode,
          bodyHash: 'h',
          deadlineMs: 600_000,
          requestedBy: { keyId: null, name: 'test' },
          idempotencyKey: null,
        });
        await setStatus(r!.requestId, RequestStatus.SUCCESS);
        return r!.requestId;
      };
      await succeed('a', Operation.CREATE, SpecMode.REPLACE, 1);
      const aReplace = await succeed('a', Operation.UPDATE, SpecMode.REPLACE, 2);
      const aMerge = await succeed('a', Operation.UPDATE, SpecMode.MERGE, 3);
      const b = await succeed('b', Operation.CREATE, SpecMode.REPLACE, 4);
      await succeed('c', Operation.CREATE, SpecMode.REPLACE, 5);

      const rows = await repo.successfulSinceLastReplace({ from: [space, 'a'], to: [space, 'b'] });
      expect(rows.map((r) => [r.name, r.requestId, r.spec])).toEqual([
        ['a', aReplace, { replicas: 2 }],
        ['a', aMerge, { replicas: 3 }],
        ['b', b, { replicas: 4 }],
      ]);
      // Without a range every target is read, these three among them.
      const all = (await repo.successfulSinceLastReplace()).filter((r) => r.namespace === space);
      expect(all.map((r) => r.name)).toEqual(['a', 'a', 'b', 'c']);
    });
  });
});
