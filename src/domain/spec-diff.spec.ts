import type { DeploymentObject as V1Deployment } from '../kubernetes/kubernetes.gateway.js';
import { specFromDeployment } from '../kubernetes/manifest.js';
import { diffSpecs } from './spec-diff.js';

const spec = { image: 'nginx:1.27', replicas: 2 };

describe('diffSpecs', () => {
  it('reports nothing for equal specs', () => {
    expect(diffSpecs({ ...spec, env: { A: '1' } }, { ...spec, env: { A: '1' } })).toEqual([]);
  });

  it('reports a changed image and replica count with both values', () => {
    expect(diffSpecs(spec, { image: 'nginx:1.28', replicas: 3 })).toEqual([
      { path: 'image', from: 'nginx:1.27', to: 'nginx:1.28' },
      { path: 'replicas', from: 2, to: 3 },
    ]);
  });

  it('names env vars, labels and quantities by nested path; absent is null', () => {
    const before = {
      ...spec,
      env: { KEEP: 'x', GONE: 'y', 'A.B': 'z' },
      resources: { limits: { cpu: '500m' } },
      labels: { 'app.example/tier': 'web' },
    };
    const after = {
      ...spec,
      env: { KEEP: 'x', NEW: 'n', 'A.B': 'changed' },
      resources: { limits: { cpu: '1' }, requests: { memory: '64Mi' } },
      labels: { 'app.example/tier': 'api' },
    };
    expect(diffSpecs(before, after)).toEqual([
      { path: 'env.A.B', from: 'z', to: 'changed' },
      { path: 'env.GONE', from: 'y', to: null },
      { path: 'env.NEW', from: null, to: 'n' },
      { path: 'labels.app.example/tier', from: 'web', to: 'api' },
      { path: 'resources.limits.cpu', from: '500m', to: '1' },
      { path: 'resources.requests.memory', from: null, to: '64Mi' },
    ]);
  });

  it('lists every field of a create from null and of a delete to null', () => {
    const full = { ...spec, containerPort: 8080, env: { A: '1' } };
    expect(diffSpecs(null, full)).toEqual([
      { path: 'containerPort', from: null, to: 8080 },
      { path: 'env.A', from: null, to: '1' },
      { path: 'image', from: null, to: 'nginx:1.27' },
      { path: 'replicas', from: null, to: 2 },
    ]);
    expect(diffSpecs(full, null).map((c) => c.to)).toEqual([null, null, null, null]);
  });

  it('does not report defaults the apiserver filled in: both sides are read in request-spec shape', () => {
    const live: V1Deployment = {
      metadata: { labels: { 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' }, generation: 3 },
      spec: {
        replicas: 2,
        selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } },
        template: { spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
      },
    };
    // What the apiserver answers for the same object: defaults everywhere, managed fields, status.
    const defaulted: V1Deployment = {
      metadata: { ...live.metadata, generation: 4, annotations: { 'deployment.kubernetes.io/revision': '2' } },
      spec: {
        ...live.spec!,
        progressDeadlineSeconds: 600,
        revisionHistoryLimit: 10,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        template: {
          spec: {
            restartPolicy: 'Always',
            dnsPolicy: 'ClusterFirst',
            containers: [
              {
                name: 'app',
                image: 'nginx:1.27',
                imagePullPolicy: 'IfNotPresent',
                terminationMessagePath: '/dev/termination-log',
                resources: {},
              },
            ],
          },
        },
      },
      status: { replicas: 2, readyReplicas: 2 },
    };
    expect(diffSpecs(specFromDeployment(live), specFromDeployment(defaulted))).toEqual([]);
  });
});
