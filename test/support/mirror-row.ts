import { randomUUID } from 'node:crypto';
import { RolloutState } from '../../src/deployments/deployment.entity.js';
import type { MirrorRow } from '../../src/deployments/mirror-row.mapper.js';

/** A mirror row of an available one-replica Deployment, for tests that write the mirror directly. */
export function mirrorRow(namespace: string, name: string, over: Partial<MirrorRow> = {}): MirrorRow {
  return {
    namespace,
    name,
    uid: randomUUID(),
    labels: {},
    images: ['nginx:1.27'],
    spec: { image: 'nginx:1.27', replicas: 1 },
    desiredReplicas: 1,
    readyReplicas: 1,
    updatedReplicas: 1,
    availableReplicas: 1,
    unavailableReplicas: 0,
    conditions: [],
    generation: 1,
    observedGeneration: 1,
    resourceVersion: '1',
    rollout: RolloutState.AVAILABLE,
    lastRequestId: null,
    k8sCreatedAt: null,
    deleted: false,
    fieldOwners: {},
    managerTimes: {},
    ...over,
  };
}
