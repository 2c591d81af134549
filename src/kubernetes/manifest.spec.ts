import { MANAGED_BY_LABEL, mergeSpec, REQUEST_ID_ANNOTATION } from '../domain/deployment-spec.js';
import { buildDeploymentManifest, isManaged, specFromDeployment } from './manifest.js';

const spec = {
  image: 'nginx:1.27',
  replicas: 3,
  containerPort: 8080,
  env: { B: '2', A: '1' },
  resources: { requests: { cpu: '100m' }, limits: { memory: '256Mi' } },
  labels: { team: 'payments' },
  annotations: { 'example.com/owner': 'alice' },
};

describe('buildDeploymentManifest', () => {
  const m = buildDeploymentManifest('default', 'web', spec, 'req-1');

  it('marks the object as ours and records the request', () => {
    expect(m.metadata?.labels).toEqual({
      team: 'payments',
      'app.kubernetes.io/name': 'web',
      [MANAGED_BY_LABEL]: 'k8s-deployment-manager',
    });
    expect(m.metadata?.annotations?.[REQUEST_ID_ANNOTATION]).toBe('req-1');
    expect(isManaged(m)).toBe(true);
  });

  it('renders the container with sorted env, port and resources', () => {
    const c = m.spec!.template.spec!.containers[0];
    expect(c.image).toBe('nginx:1.27');
    expect(c.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ]);
    expect(c.ports).toEqual([{ containerPort: 8080, protocol: 'TCP' }]);
    expect(c.resources).toEqual({ requests: { cpu: '100m' }, limits: { memory: '256Mi' } });
    expect(m.spec!.replicas).toBe(3);
    expect(m.spec!.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'web' });
  });

  it('round-trips through specFromDeployment, dropping system labels and annotations', () => {
    const live = {
      ...m,
      metadata: {
        ...m.metadata,
        annotations: { ...m.metadata!.annotations, 'deployment.kubernetes.io/revision': '2' },
      },
    };
    expect(specFromDeployment(live)).toEqual(spec);
  });

  it('sets progressDeadlineSeconds when given, and reads back only a deadline that is not the default', () => {
    const short = buildDeploymentManifest('default', 'web', { ...spec, progressDeadlineSeconds: 5 }, 'req-1');
    expect(short.spec!.progressDeadlineSeconds).toBe(5);
    expect(specFromDeployment(short).progressDeadlineSeconds).toBe(5);
    expect(m.spec!.progressDeadlineSeconds).toBeUndefined();
    // The apiserver fills in 600 when none is given: not part of our spec.
    const defaulted = { ...m, spec: { ...m.spec!, progressDeadlineSeconds: 600 } };
    expect(specFromDeployment(defaulted)).toEqual(spec);
  });
});

describe('mergeSpec', () => {
  it('replaces only the named fields, each whole', () => {
    const merged = mergeSpec(spec, { replicas: 5, env: { C: '3' } });
    expect(merged).toEqual({ ...spec, replicas: 5, env: { C: '3' } });
  });
});

describe('isManaged', () => {
  it('is false for objects without our label', () => {
    expect(isManaged({ metadata: { labels: { [MANAGED_BY_LABEL]: 'helm' } } })).toBe(false);
    expect(isManaged(null)).toBe(false);
  });
});
