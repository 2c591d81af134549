import { REQUEST_ID_ANNOTATION } from '../domain/deployment-spec.js';
import { buildDeploymentManifest } from '../kubernetes/manifest.js';
import { DeploymentEntity, RolloutState } from './deployment.entity.js';
import { entityFromLive, toMirrorRow } from './mirror-row.mapper.js';

const spec = { image: 'nginx:1.27', replicas: 2, labels: { team: 'payments' } };
const live = () => {
  const m = buildDeploymentManifest('default', 'web', spec, 'req-7');
  m.metadata = {
    ...m.metadata,
    uid: '5f0c7a4e-8b1d-4c2e-9a53-0d7f3b8e2c11',
    resourceVersion: '4812',
    generation: 2,
    creationTimestamp: new Date('2026-11-28T07:30:00Z'),
  };
  m.status = {
    observedGeneration: 2,
    replicas: 2,
    readyReplicas: 1,
    updatedReplicas: 2,
    availableReplicas: 1,
    unavailableReplicas: 1,
    conditions: [
      {
        type: 'Available',
        status: 'False',
        reason: 'MinimumReplicasUnavailable',
        lastTransitionTime: new Date('2026-11-28T07:30:01Z'),
      },
      { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' },
    ],
  };
  return m;
};

describe('toMirrorRow', () => {
  it('maps identity, status, the request id and the managed spec', () => {
    const r = toMirrorRow(live());
    expect(r).toMatchObject({
      namespace: 'default',
      name: 'web',
      uid: '5f0c7a4e-8b1d-4c2e-9a53-0d7f3b8e2c11',
      images: ['nginx:1.27'],
      spec,
      desiredReplicas: 2,
      readyReplicas: 1,
      updatedReplicas: 2,
      availableReplicas: 1,
      unavailableReplicas: 1,
      generation: 2,
      observedGeneration: 2,
      resourceVersion: '4812',
      rollout: RolloutState.PROGRESSING,
      lastRequestId: 'req-7',
      k8sCreatedAt: '2026-11-28T07:30:00.000Z',
      deleted: false,
    });
    expect(r.labels).toMatchObject({ team: 'payments', 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' });
    expect(r.conditions[0]).toEqual({
      type: 'Available',
      status: 'False',
      reason: 'MinimumReplicasUnavailable',
      lastTransitionTime: '2026-11-28T07:30:01.000Z',
    });
  });

  it('reads timestamps that arrive as strings (raw watch JSON) the same way', () => {
    const d = live();
    (d.metadata as Record<string, unknown>).creationTimestamp = '2026-11-28T07:30:00Z';
    expect(toMirrorRow(d).k8sCreatedAt).toBe('2026-11-28T07:30:00.000Z');
  });

  it('marks deletions and tolerates objects without our annotation', () => {
    const d = live();
    delete d.metadata!.annotations![REQUEST_ID_ANNOTATION];
    const r = toMirrorRow(d, true);
    expect(r.deleted).toBe(true);
    expect(r.lastRequestId).toBeNull();
  });
});

describe('entityFromLive', () => {
  it('takes Kubernetes fields from the object and the mirror-only ones from the row', () => {
    const row = Object.assign(new DeploymentEntity(), { drifted: true, createdAt: new Date('2026-11-01T00:00:00Z') });
    const now = new Date('2026-11-28T08:00:00Z');
    const e = entityFromLive(live(), row, now);
    expect(e.drifted).toBe(true);
    expect(e.createdAt).toEqual(row.createdAt);
    expect(e.syncedAt).toBe(now);
    expect(e.deletedAt).toBeNull();
    expect(e.resourceVersion).toBe('4812');
    expect(entityFromLive(live(), null, now).drifted).toBe(false);
  });
});
