import { RolloutReceiptState } from '../domain/rollout-receipt.js';
import { RequestStatus } from './deployment-request.entity.js';
import { waitIsOver } from './request-wait.service.js';

const receipt = (state: RolloutReceiptState) => ({
  state,
  generation: 2,
  observedGeneration: 2,
  replicas: null,
  reason: null,
  message: null,
  completedAt: null,
});

describe('waitIsOver', () => {
  it('done: only SUCCESS and FAILURE end the wait', () => {
    for (const s of [RequestStatus.CREATED, RequestStatus.QUEUED, RequestStatus.PROCESSING])
      expect(waitIsOver({ status: s, rollout: null }, 'done')).toBe(false);
    expect(waitIsOver({ status: RequestStatus.SUCCESS, rollout: null }, 'done')).toBe(true);
    expect(waitIsOver({ status: RequestStatus.FAILURE, rollout: null }, 'done')).toBe(true);
  });

  it('rollout: a final receipt, or a FAILURE (which never gets one), ends the wait', () => {
    for (const s of [RequestStatus.CREATED, RequestStatus.QUEUED, RequestStatus.PROCESSING])
      expect(waitIsOver({ status: s, rollout: null }, 'rollout')).toBe(false);
    // A SUCCESS from before receipts never gets one.
    expect(waitIsOver({ status: RequestStatus.SUCCESS, rollout: null }, 'rollout')).toBe(true);
    expect(
      waitIsOver({ status: RequestStatus.SUCCESS, rollout: receipt(RolloutReceiptState.WAITING) }, 'rollout'),
    ).toBe(false);
    expect(
      waitIsOver({ status: RequestStatus.SUCCESS, rollout: receipt(RolloutReceiptState.PROGRESSING) }, 'rollout'),
    ).toBe(false);
    for (const s of [
      RolloutReceiptState.COMPLETE,
      RolloutReceiptState.FAILED,
      RolloutReceiptState.SUPERSEDED,
      RolloutReceiptState.GONE,
    ])
      expect(waitIsOver({ status: RequestStatus.SUCCESS, rollout: receipt(s) }, 'rollout')).toBe(true);
    expect(waitIsOver({ status: RequestStatus.FAILURE, rollout: null }, 'rollout')).toBe(true);
  });
});
