import { RolloutState } from './deployment.entity.js';

/** The parts of a Deployment that decide its rollout state (a V1Deployment fits). */
export interface RolloutInputs {
  metadata?: { generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string }[];
  };
}

export const PROGRESS_DEADLINE_EXCEEDED = 'ProgressDeadlineExceeded';

/**
 * The rollout state, decided the way `kubectl rollout status` decides it
 * (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go, DeploymentStatusViewer):
 * 1. until the controller has observed the current generation, it is still PROGRESSING;
 * 2. a Progressing condition with reason ProgressDeadlineExceeded is FAILED;
 * 3. otherwise AVAILABLE once updated replicas reach the desired count, no old replicas
 *    remain, and every updated replica is available.
 */
export function rolloutState(d: RolloutInputs): RolloutState {
  const generation = d.metadata?.generation ?? 0;
  const s = d.status ?? {};
  if ((s.observedGeneration ?? 0) < generation) return RolloutState.PROGRESSING;

  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === PROGRESS_DEADLINE_EXCEEDED && progressing.status !== 'True') return RolloutState.FAILED;

  // spec.replicas defaults to 1 on the server; kubectl skips the check only when it is unset.
  const desired = d.spec?.replicas;
  const updated = s.updatedReplicas ?? 0;
  if (desired !== undefined && updated < desired) return RolloutState.PROGRESSING;
  if ((s.replicas ?? 0) > updated) return RolloutState.PROGRESSING;
  if ((s.availableReplicas ?? 0) < updated) return RolloutState.PROGRESSING;
  return RolloutState.AVAILABLE;
}
