import { REQUEST_ID_ANNOTATION } from '../domain/deployment-spec.js';
import { buildDeploymentManifest } from '../kubernetes/manifest.js';
import { DeploymentEntity, RolloutState } from './deployment.entity.js';
import { entityFromLive, hideUnmanagedEnv, toMirrorRow } from './mirror-row.mapper.js';

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

describe('env in the mirror', () => {
  const withEnv = (managed: boolean) => {
    const d = live();
    if (!managed) delete d.metadata!.labels!['app.kubernetes.io/managed-by'];
    d.spec!.template!.spec!.containers[0].env = [
      { name: 'PLAIN', value: 'shown' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      { name: 'CONFIG', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'c' } } },
    ];
    return d;
  };

  it('keeps literal values of a managed Deployment and only the kind of each valueFrom reference', () => {
    const { spec } = toMirrorRow(withEnv(true));
    expect(spec.env).toEqual({ PLAIN: 'shown' });
    expect(spec.envReferences).toEqual({ DB_PASSWORD: 'secretKeyRef', CONFIG: 'configMapKeyRef' });
    expect(spec.envNames).toBeUndefined();
  });

  it('keeps only the sorted env names of a Deployment we do not manage', () => {
    const { spec } = toMirrorRow(withEnv(false));
    expect(spec).not.toHaveProperty('env');
    expect(spec).not.toHaveProperty('envReferences');
    expect(spec.envNames).toEqual(['CONFIG', 'DB_PASSWORD', 'PLAIN']);
    expect(JSON.stringify(entityFromLive(withEnv(false), null))).not.toContain('shown');
  });

  it('hides env values of an unmanaged row on read, and leaves a managed row alone', () => {
    const spec = { image: 'x', replicas: 1, env: { TOKEN: 'secret' } };
    expect(hideUnmanagedEnv(spec, { app: 'x' })).toEqual({ image: 'x', replicas: 1, envNames: ['TOKEN'] });
    expect(hideUnmanagedEnv(spec, { 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' })).toBe(spec);
    expect(hideUnmanagedEnv(null, {})).toBeNull();
  });
});
