import { randomUUID } from 'node:crypto';
import type { TestingModule } from '@nestjs/testing';
import type pg from 'pg';
import { DeploymentEntity, RolloutState } from '../../src/deployments/deployment.entity.js';
import { DeploymentsRepository } from '../../src/deployments/deployments.repository.js';
import { RolloutReceiptState } from '../../src/domain/rollout-receipt.js';
import { DeploymentRequestEntity, Operation, SpecMode } from '../../src/requests/deployment-request.entity.js';
import { RequestsRepository } from '../../src/requests/requests.repository.js';
import { RolloutReceipts } from '../../src/requests/rollout-receipts.service.js';
import { db, uniqueId } from '../support/harness.js';
import { mirrorRow } from '../support/mirror-row.js';
import { repositoryModule } from '../support/repository-module.js';

describe('Rollout receipts in PostgreSQL (RequestsRepository.openReceipts/moveReceipts, RolloutReceipts)', () => {
  let module: TestingModule;
  let requests: RequestsRepository;
  let mirror: DeploymentsRepository;
  let receipts: RolloutReceipts;
  let pool: pg.Pool;
  const ns = `repo-rcpt-${uniqueId()}`;

  beforeAll(async () => {
    ({ module } = await repositoryModule(
      [DeploymentRequestEntity, DeploymentEntity],
      [RequestsRepository, DeploymentsRepository, RolloutReceipts],
    ));
    requests = module.get(RequestsRepository);
    mirror = module.get(DeploymentsRepository);
    receipts = module.get(RolloutReceipts);
    pool = db();
  });

  afterAll(async () => {
    await pool?.end();
    await module?.close();
  });

  /** Accepts a request and has a worker's lock mark it SUCCESS with this write's result, as the worker does. */
  async function succeeded(
    name: string,
    operation: Operation,
    result: { generation: number; resourceVersion: string },
  ) {
    const r = (await requests.insertIfAbsent({
      requestId: randomUUID(),
      operation,
      namespace: ns,
      name,
      spec: operation === Operation.DELETE ? null : { image: 'nginx:1.27', replicas: 2 },
      specMode: SpecMode.REPLACE,
      bodyHash: 'h',
      deadlineMs: 600_000,
      requestedBy: { keyId: null, name: 'test' },
      idempotencyKey: null,
    }))!;
    await requests.tryWithTargetLock(ns, name, async (lock) => {
      const claim = await lock.claimOldestOpen();
      if (claim.kind !== 'claimed') throw new Error(`nothing to claim: ${claim.kind}`);
      await lock.succeed(claim.request.requestId, result);
    });
    return r;
  }

  const receiptOf = async (requestId: string) => (await requests.findById(requestId))!.rollout;
  const updatedAtOf = async (requestId: string) =>
    (await pool.query('SELECT updated_at FROM deployment_requests WHERE request_id = $1', [requestId])).rows[0]
      .updated_at as Date;

  const progressing = (reason: string, message: string) => [{ type: 'Progressing', status: 'True', reason, message }];

  it('SUCCESS writes WAITING with the generation our write produced, in the same update', async () => {
    const name = `d-${uniqueId()}`;
    const r = await succeeded(name, Operation.CREATE, { generation: 1, resourceVersion: '100' });
    expect(await receiptOf(r.requestId)).toEqual({
      state: RolloutReceiptState.WAITING,
      generation: 1,
      observedGeneration: null,
      replicas: null,
      reason: null,
      message: null,
      completedAt: null,
    });
  });

  it('moves a receipt PROGRESSING then COMPLETE as the mirror shows our generation, and never rewrites it unchanged', async () => {
    const name = `d-${uniqueId()}`;
    const r = await succeeded(name, Operation.CREATE, { generation: 1, resourceVersion: '100' });
    await mirror.upsertMany([
      mirrorRow(ns, name, {
        resourceVersion: '101',
        lastRequestId: r.requestId,
        desiredReplicas: 2,
        updatedReplicas: 1,
        readyReplicas: 0,
        availableReplicas: 0,
        rollout: RolloutState.PROGRESSING,
        conditions: progressing('ReplicaSetUpdated', 'ReplicaSet "x" is progressing.'),
      }),
    ]);
    expect(await receipts.advance([{ namespace: ns, name }])).toBe(1);
    expect(await receiptOf(r.requestId)).toMatchObject({
      state: RolloutReceiptState.PROGRESSING,
      observedGeneration: 1,
      replicas: { desired: 2, updated: 1, ready: 0, available: 0 },
      reason: 'ReplicaSetUpdated',
      completedAt: null,
    });
    const before = await updatedAtOf(r.requestId);
    expect(await receipts.advance([{ namespace: ns, name }])).toBe(0);
    expect(await updatedAtOf(r.requestId)).toEqual(before);

    await mirror.upsertMany([
      mirrorRow(ns, name, {
        resourceVersion: '102',
        lastRequestId: r.requestId,
        desiredReplicas: 2,
        updatedReplicas: 2,
        readyReplicas: 2,
        availableReplicas: 2,
        conditions: progressing('NewReplicaSetAvailable', 'ReplicaSet "x" has successfully progressed.'),
      }),
    ]);
    expect(await receipts.advance()).toBeGreaterThanOrEqual(1);
    const done = await receiptOf(r.requestId);
    expect(done).toMatchObject({
      state: RolloutReceiptState.COMPLETE,
      replicas: { desired: 2, updated: 2, ready: 2, available: 2 },
      reason: 'NewReplicaSetAvailable',
    });
    expect(done!.completedAt).toEqual(expect.any(String));
    // Final: no longer among the open receipts.
    expect((await requests.openReceipts([{ namespace: ns, name }])).length).toBe(0);
  });

  it('picks up a generation the mirror showed before SUCCESS was recorded (the worker calls advance after succeed)', async () => {
    const name = `d-${uniqueId()}`;
    const requestId = randomUUID();
    // The watcher was first: the mirror already holds the write of the request not yet marked SUCCESS.
    await mirror.upsertMany([mirrorRow(ns, name, { resourceVersion: '200', generation: 1, lastRequestId: requestId })]);
    const r = (await requests.insertIfAbsent({
      requestId,
      operation: Operation.CREATE,
      namespace: ns,
      name,
      spec: { image: 'nginx:1.27', replicas: 1 },
      specMode: SpecMode.REPLACE,
      bodyHash: 'h',
      deadlineMs: 600_000,
      requestedBy: { keyId: null, name: 'test' },
      idempotencyKey: null,
    }))!;
    const next = await requests.tryWithTargetLock(ns, name, async (lock) => {
      const claim = await lock.claimOldestOpen();
      if (claim.kind !== 'claimed') throw new Error('nothing to claim');
      await lock.succeed(claim.request.requestId, { generation: 1, resourceVersion: '200' });
      return lock.claimOldestOpen();
    });
    // The claim after SUCCESS tells the worker the mirror has a row: that is when it moves receipts.
    expect(next).toEqual({ acquired: true, value: { kind: 'none', mirrored: true } });
    expect((await receiptOf(r.requestId))!.state).toBe(RolloutReceiptState.WAITING);
    await receipts.advance([{ namespace: ns, name }]);
    expect((await receiptOf(r.requestId))!.state).toBe(RolloutReceiptState.COMPLETE);
  });

  it('leaves the first of two updates SUPERSEDED when the mirror shows the second generation', async () => {
    const name = `d-${uniqueId()}`;
    const first = await succeeded(name, Operation.UPDATE, { generation: 2, resourceVersion: '300' });
    const second = await succeeded(name, Operation.UPDATE, { generation: 3, resourceVersion: '301' });
    await mirror.upsertMany([
      mirrorRow(ns, name, {
        resourceVersion: '302',
        generation: 3,
        observedGeneration: 3,
        lastRequestId: second.requestId,
      }),
    ]);
    await receipts.advance([{ namespace: ns, name }]);
    expect((await receiptOf(first.requestId))!.state).toBe(RolloutReceiptState.SUPERSEDED);
    expect((await receiptOf(second.requestId))!.state).toBe(RolloutReceiptState.COMPLETE);
  });

  it('moves a DELETE to GONE once the mirror row is deleted, not before', async () => {
    const name = `d-${uniqueId()}`;
    await mirror.upsertMany([mirrorRow(ns, name, { resourceVersion: '400', generation: 4, observedGeneration: 4 })]);
    const d = await succeeded(name, Operation.DELETE, { generation: 4, resourceVersion: '400' });
    await receipts.advance([{ namespace: ns, name }]);
    expect((await receiptOf(d.requestId))!.state).toBe(RolloutReceiptState.WAITING);
    await mirror.upsertMany([
      mirrorRow(ns, name, { resourceVersion: '401', generation: 4, observedGeneration: 4, deleted: true }),
    ]);
    await receipts.advance([{ namespace: ns, name }]);
    expect(await receiptOf(d.requestId)).toMatchObject({ state: RolloutReceiptState.GONE, generation: 4 });
  });

  it('moveReceipts is a compare-and-set: a receipt someone moved since it was read is left alone', async () => {
    const name = `d-${uniqueId()}`;
    const r = await succeeded(name, Operation.CREATE, { generation: 1, resourceVersion: '500' });
    const [open] = await requests.openReceipts([{ namespace: ns, name }]);
    const stale = open.request.rollout;
    const progressingReceipt = { ...stale, state: RolloutReceiptState.PROGRESSING, observedGeneration: 1 };
    expect(await requests.moveReceipts([{ requestId: r.requestId, from: stale, to: progressingReceipt }])).toEqual([
      r.requestId,
    ]);
    const complete = { ...stale, state: RolloutReceiptState.COMPLETE, completedAt: new Date().toISOString() };
    expect(await requests.moveReceipts([{ requestId: r.requestId, from: stale, to: complete }])).toEqual([]);
    expect((await receiptOf(r.requestId))!.state).toBe(RolloutReceiptState.PROGRESSING);
  });
});
