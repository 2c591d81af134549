import { RolloutReceiptState } from '../domain/rollout-receipt.js';
import { Operation } from './deployment-request.entity.js';
import { nextReceipt, ObservedDeployment, ReceiptRequest, waitingReceipt } from './rollout-receipts.js';

const now = new Date('2026-12-02T10:00:00.000Z');

const update = (extra: Partial<ReceiptRequest> = {}): ReceiptRequest => ({
  requestId: 'r2',
  namespace: 'ns',
  name: 'web',
  seq: 20,
  operation: Operation.UPDATE,
  generation: 3,
  resourceVersion: '500',
  rollout: waitingReceipt(3),
  ...extra,
});

const remove = (extra: Partial<ReceiptRequest> = {}): ReceiptRequest =>
  update({ operation: Operation.DELETE, rollout: waitingReceipt(3), ...extra });

/** The mirror showing our write (generation 3), observed and complete. */
const observed = (extra: Partial<ObservedDeployment> = {}): ObservedDeployment => ({
  deleted: false,
  generation: 3,
  observedGeneration: 3,
  resourceVersion: '510',
  rollout: 'AVAILABLE',
  replicas: { desired: 2, updated: 2, ready: 2, available: 2 },
  progressing: { reason: 'NewReplicaSetAvailable', message: 'ReplicaSet "web-1" has successfully progressed.' },
  lastWriterSeq: 20,
  ...extra,
});

describe('nextReceipt: CREATE and UPDATE', () => {
  it('stays as it is while the mirror has not seen our write (no row, or an older resourceVersion)', () => {
    expect(nextReceipt(update(), null, now)).toBeNull();
    expect(
      nextReceipt(update(), observed({ resourceVersion: '499', generation: 2, lastWriterSeq: 10 }), now),
    ).toBeNull();
  });

  it('is WAITING, with the observed generation, while the controller has not observed ours', () => {
    expect(nextReceipt(update(), observed({ observedGeneration: 2, rollout: 'PROGRESSING' }), now)).toEqual({
      ...waitingReceipt(3),
      observedGeneration: 2,
    });
  });

  it('is PROGRESSING with counts, reason and message once observed but not yet available', () => {
    const d = observed({
      rollout: 'PROGRESSING',
      replicas: { desired: 2, updated: 1, ready: 0, available: 0 },
      progressing: { reason: 'ReplicaSetUpdated', message: 'ReplicaSet "web-1" is progressing.' },
    });
    expect(nextReceipt(update(), d, now)).toEqual({
      state: RolloutReceiptState.PROGRESSING,
      generation: 3,
      observedGeneration: 3,
      replicas: { desired: 2, updated: 1, ready: 0, available: 0 },
      reason: 'ReplicaSetUpdated',
      message: 'ReplicaSet "web-1" is progressing.',
      completedAt: null,
    });
  });

  it('is COMPLETE, stamped, once the mirror finds our generation available', () => {
    expect(nextReceipt(update(), observed(), now)).toMatchObject({
      state: RolloutReceiptState.COMPLETE,
      generation: 3,
      observedGeneration: 3,
      replicas: { desired: 2, updated: 2, ready: 2, available: 2 },
      reason: 'NewReplicaSetAvailable',
      completedAt: now.toISOString(),
    });
  });

  it('is FAILED when the progress deadline passed for our generation', () => {
    const d = observed({
      rollout: 'FAILED',
      progressing: { reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing.' },
    });
    expect(nextReceipt(update(), d, now)).toMatchObject({
      state: RolloutReceiptState.FAILED,
      reason: 'ProgressDeadlineExceeded',
      completedAt: now.toISOString(),
    });
  });

  it('is SUPERSEDED when a newer generation was written before ours completed', () => {
    const d = observed({ generation: 4, observedGeneration: 4, resourceVersion: '520', lastWriterSeq: 30 });
    expect(nextReceipt(update(), d, now)).toMatchObject({ state: RolloutReceiptState.SUPERSEDED, generation: 3 });
  });

  it('follows a newer write that left the generation as it was: the same rollout', () => {
    const d = observed({ resourceVersion: '520', lastWriterSeq: 30 });
    expect(nextReceipt(update(), d, now)).toMatchObject({ state: RolloutReceiptState.COMPLETE });
  });

  it('is SUPERSEDED when the Deployment was deleted mid-rollout, COMPLETE when it had completed', () => {
    expect(nextReceipt(update(), observed({ deleted: true, rollout: 'PROGRESSING' }), now)).toMatchObject({
      state: RolloutReceiptState.SUPERSEDED,
    });
    expect(nextReceipt(update(), observed({ deleted: true }), now)).toMatchObject({
      state: RolloutReceiptState.COMPLETE,
    });
  });

  it('never moves a final receipt, and never rewrites an identical one', () => {
    const complete = nextReceipt(update(), observed(), now)!;
    expect(nextReceipt(update({ rollout: complete }), observed({ generation: 9 }), now)).toBeNull();
    const progressing = nextReceipt(update(), observed({ rollout: 'PROGRESSING' }), now)!;
    expect(nextReceipt(update({ rollout: progressing }), observed({ rollout: 'PROGRESSING' }), now)).toBeNull();
  });

  it('does not trust a malformed resourceVersion: unchanged', () => {
    expect(nextReceipt(update(), observed({ resourceVersion: '0510' }), now)).toBeNull();
  });
});

describe('nextReceipt: DELETE', () => {
  it('is GONE once the mirror row is deleted or absent', () => {
    expect(nextReceipt(remove(), observed({ deleted: true }), now)).toMatchObject({
      state: RolloutReceiptState.GONE,
      generation: 3,
      completedAt: now.toISOString(),
    });
    expect(nextReceipt(remove(), null, now)).toMatchObject({ state: RolloutReceiptState.GONE });
  });

  it('is GONE at once when there was nothing to delete', () => {
    const nothing = remove({ generation: null, resourceVersion: null, rollout: waitingReceipt(null) });
    expect(nextReceipt(nothing, observed(), now)).toMatchObject({ state: RolloutReceiptState.GONE });
  });

  it('waits while the mirror still shows the object live', () => {
    expect(nextReceipt(remove(), observed({ lastWriterSeq: 10 }), now)).toBeNull();
  });

  it('is GONE when a later request of ours made the Deployment again', () => {
    const again = observed({ generation: 1, observedGeneration: 1, resourceVersion: '600', lastWriterSeq: 40 });
    expect(nextReceipt(remove(), again, now)).toMatchObject({ state: RolloutReceiptState.GONE });
  });
});
