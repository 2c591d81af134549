import type { DeploymentObject as V1Deployment } from '../kubernetes/kubernetes.gateway.js';

type V1ManagedFieldsEntry = NonNullable<NonNullable<V1Deployment['metadata']>['managedFields']>[number];
import { attributeDrift, fieldOwnersOf, foreignOwners, managerTimesOf } from './field-owners.js';

const ours = 'k8s-deployment-manager';

// What our server-side apply of buildDeploymentManifest records (fieldsV1 as the apiserver writes it).
const ourApply: V1ManagedFieldsEntry = {
  manager: ours,
  operation: 'Apply',
  apiVersion: 'apps/v1',
  fieldsType: 'FieldsV1',
  fieldsV1: {
    'f:metadata': {
      'f:annotations': { 'f:k8s-deployment-manager.io/request-id': {}, 'f:team': {} },
      'f:labels': { 'f:app.kubernetes.io/managed-by': {}, 'f:app.kubernetes.io/name': {}, 'f:tier': {} },
    },
    'f:spec': {
      'f:replicas': {},
      'f:selector': {},
      'f:template': {
        'f:metadata': { 'f:labels': { 'f:app.kubernetes.io/name': {} } },
        'f:spec': {
          'f:containers': {
            'k:{"name":"app"}': {
              '.': {},
              'f:env': { 'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
              'f:image': {},
              'f:name': {},
              'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
              'f:resources': { 'f:limits': { 'f:cpu': {} } },
            },
          },
        },
      },
    },
  },
};

const deployment = (...managedFields: V1ManagedFieldsEntry[]): V1Deployment => ({
  metadata: { name: 'web', namespace: 'default', managedFields },
  spec: {
    selector: {},
    template: { spec: { containers: [{ name: 'app', image: 'nginx' }] } },
  },
});

describe('fieldOwnersOf (managedFields ownership)', () => {
  it('maps our apply to every managed field, system labels and annotations excluded', () => {
    expect(fieldOwnersOf(deployment(ourApply), ['tier'], ['team'])).toEqual({
      replicas: [ours],
      image: [ours],
      containerPort: [ours],
      env: [ours],
      resources: [ours],
      labels: [ours],
      annotations: [ours],
    });
    // With no user labels or annotations, owning the system keys owns nothing we compare.
    const owners = fieldOwnersOf(deployment(ourApply));
    expect(owners.labels).toBeUndefined();
    expect(owners.annotations).toBeUndefined();
  });

  it('names an HPA or kubectl scale (scale subresource) as the owner of replicas', () => {
    const specWithoutReplicas = { ...((ourApply.fieldsV1 as Record<string, object>)['f:spec'] as object) };
    delete (specWithoutReplicas as Record<string, object>)['f:replicas'];
    const ourApplyAfterScale = { ...ourApply, fieldsV1: { ...ourApply.fieldsV1, 'f:spec': specWithoutReplicas } };
    const scale: V1ManagedFieldsEntry = {
      manager: 'kubectl',
      operation: 'Update',
      subresource: 'scale',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:spec': { 'f:replicas': {} } },
    };
    const owners = fieldOwnersOf(deployment(ourApplyAfterScale, scale));
    expect(owners.replicas).toEqual(['kubectl']);
    expect(owners.image).toEqual([ours]);
    expect(foreignOwners(owners, ['replicas', 'image'], ours)).toEqual([{ field: 'replicas', manager: 'kubectl' }]);
  });

  it('sees an image set by another manager on our container, and ignores other containers and status', () => {
    const setImage: V1ManagedFieldsEntry = {
      manager: 'kubectl-set',
      operation: 'Update',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"app"}': { 'f:image': {} } } } } },
      },
    };
    const sidecar: V1ManagedFieldsEntry = {
      manager: 'injector',
      operation: 'Update',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:spec': {
          'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"proxy"}': { 'f:image': {}, 'f:env': {} } } } },
        },
      },
    };
    const status: V1ManagedFieldsEntry = {
      manager: 'kube-controller-manager',
      operation: 'Update',
      subresource: 'status',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': { 'f:replicas': {}, 'f:readyReplicas': {} } },
    };
    const owners = fieldOwnersOf(deployment(ourApply, setImage, sidecar, status));
    expect(owners.image).toEqual(['k8s-deployment-manager', 'kubectl-set']);
    expect(owners.env).toEqual([ours]);
    expect(owners.replicas).toEqual([ours]);
  });

  it('copes with no managedFields, malformed keys and entries without a manager', () => {
    expect(fieldOwnersOf(deployment())).toEqual({});
    const odd: V1ManagedFieldsEntry = {
      manager: 'odd',
      operation: 'Update',
      fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{not json': { 'f:image': {} } } } } } },
    };
    const anonymous: V1ManagedFieldsEntry = { operation: 'Update', fieldsV1: { 'f:spec': { 'f:replicas': {} } } };
    expect(fieldOwnersOf(deployment(odd, anonymous))).toEqual({});
    expect(foreignOwners(null, ['replicas'], ours)).toEqual([]);
  });
});

describe('managerTimesOf', () => {
  it('keeps the latest time of each manager across its entries; a manager with none gets null', () => {
    const at = (manager: string, time: string | undefined, subresource?: string): V1ManagedFieldsEntry => ({
      manager,
      operation: 'Update',
      ...(time ? { time: new Date(time) } : {}),
      ...(subresource ? { subresource } : {}),
      fieldsV1: {},
    });
    const d = deployment(
      at(ours, '2026-11-28T07:30:00Z'),
      at('kubectl-scale', '2026-11-28T07:40:00Z', 'scale'),
      at('kubectl-scale', '2026-11-28T07:35:00Z'),
      at('no-time', undefined),
    );
    expect(managerTimesOf(d)).toEqual({
      [ours]: '2026-11-28T07:30:00.000Z',
      'kubectl-scale': '2026-11-28T07:40:00.000Z',
      'no-time': null,
    });
  });
});

describe('attributeDrift', () => {
  const times = { 'kubectl-scale': '2026-11-28T07:40:00.000Z', [ours]: '2026-11-28T07:30:00.000Z' };
  const elsewhere = new Set(['kube-controller-manager']);

  it('names the managers owning each drifted field with when they last changed the object', () => {
    const report = attributeDrift(
      ['replicas', 'env'],
      { replicas: ['kubectl-scale'], env: [ours] },
      times,
      elsewhere,
      '2026-11-28T08:00:00.000Z',
    );
    expect(report).toEqual({
      checkedAt: '2026-11-28T08:00:00.000Z',
      fields: [
        { field: 'replicas', managers: [{ manager: 'kubectl-scale', changedAt: '2026-11-28T07:40:00.000Z' }] },
        { field: 'env', managers: [{ manager: ours, changedAt: '2026-11-28T07:30:00.000Z' }] },
      ],
      managedElsewhere: [],
    });
  });

  it('lists a field a managed-elsewhere manager owns as managedElsewhere, not as drift', () => {
    const report = attributeDrift(
      ['replicas', 'image'],
      { replicas: ['kube-controller-manager'], image: ['kubectl-set'] },
      {},
      elsewhere,
      '2026-11-28T08:00:00.000Z',
    );
    expect(report.fields).toEqual([{ field: 'image', managers: [{ manager: 'kubectl-set', changedAt: null }] }]);
    expect(report.managedElsewhere).toEqual([
      { field: 'replicas', manager: 'kube-controller-manager', changedAt: null },
    ]);
  });

  it('reports a drifted field with no known owner with an empty manager list', () => {
    expect(attributeDrift(['labels'], null, null, elsewhere, 't').fields).toEqual([{ field: 'labels', managers: [] }]);
  });
});
