import { RolloutState } from './deployment.entity.js';
import { rolloutState, RolloutInputs } from './rollout-state.js';

const done: RolloutInputs = {
  metadata: { generation: 3 },
  spec: { replicas: 2 },
  status: {
    observedGeneration: 3,
    replicas: 2,
    updatedReplicas: 2,
    availableReplicas: 2,
    conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }],
  },
};
const withStatus = (
  status: Partial<NonNullable<RolloutInputs['status']>>,
  extra: Partial<RolloutInputs> = {},
): RolloutInputs => ({
  ...done,
  ...extra,
  status: { ...done.status, ...status },
});

describe('rolloutState', () => {
  it('is AVAILABLE when the controller caught up and every updated replica is available', () => {
    expect(rolloutState(done)).toBe(RolloutState.AVAILABLE);
  });

  it('is PROGRESSING until the controller has observed the current generation', () => {
    expect(rolloutState(withStatus({ observedGeneration: 2 }))).toBe(RolloutState.PROGRESSING);
    expect(rolloutState({ metadata: { generation: 1 }, spec: { replicas: 1 } })).toBe(RolloutState.PROGRESSING);
  });

  it('does not report a deadline that belongs to a generation not yet observed', () => {
    const stale = withStatus({
      observedGeneration: 2,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
    });
    expect(rolloutState(stale)).toBe(RolloutState.PROGRESSING);
  });

  it('is FAILED when Progressing is False with reason ProgressDeadlineExceeded', () => {
    const failed = withStatus({
      availableReplicas: 0,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
    });
    expect(rolloutState(failed)).toBe(RolloutState.FAILED);
  });

  it('waits for updated replicas to reach the desired count', () => {
    expect(rolloutState(withStatus({ updatedReplicas: 1, availableReplicas: 1 }))).toBe(RolloutState.PROGRESSING);
  });

  it('waits for old replicas to go', () => {
    expect(rolloutState(withStatus({ replicas: 3 }))).toBe(RolloutState.PROGRESSING);
  });

  it('waits for updated replicas to become available', () => {
    expect(rolloutState(withStatus({ availableReplicas: 1 }))).toBe(RolloutState.PROGRESSING);
  });

  it('treats a scale to zero that has settled as AVAILABLE', () => {
    const zero = { metadata: { generation: 2 }, spec: { replicas: 0 }, status: { observedGeneration: 2 } };
    expect(rolloutState(zero)).toBe(RolloutState.AVAILABLE);
  });
});
