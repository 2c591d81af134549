import { quantityValue } from '../common/quantity.js';
import { Operation, SpecMode } from '../requests/deployment-request.entity.js';
import { desiredSpecs, driftedFields, SuccessfulRequest } from './drift.js';

const req = (operation: Operation, specMode: SpecMode, spec: SuccessfulRequest['spec']): SuccessfulRequest => ({
  namespace: 'ns',
  name: 'web',
  operation,
  specMode,
  spec,
  requestId: Math.random().toString(),
});

describe('desiredSpecs', () => {
  it('folds PATCHes over the last full spec, in order', () => {
    const d = desiredSpecs([
      req(Operation.CREATE, SpecMode.REPLACE, { image: 'a', replicas: 1 }),
      req(Operation.UPDATE, SpecMode.MERGE, { replicas: 3 }),
      req(Operation.UPDATE, SpecMode.MERGE, { env: { A: '1' } }),
    ]);
    expect(d.get('ns/web')).toEqual({ image: 'a', replicas: 3, env: { A: '1' } });
  });

  it('has nothing to compare after a DELETE', () => {
    const d = desiredSpecs([
      req(Operation.CREATE, SpecMode.REPLACE, { image: 'a', replicas: 1 }),
      req(Operation.DELETE, SpecMode.REPLACE, null),
    ]);
    expect(d.get('ns/web')).toBeNull();
  });
});

describe('driftedFields', () => {
  const desired = {
    image: 'nginx',
    replicas: 2,
    resources: { requests: { cpu: '0.5', memory: '1Gi' } },
    labels: { a: 'b' },
  };

  it('is empty when Kubernetes holds what we asked for, in any quantity spelling', () => {
    expect(
      driftedFields(desired, {
        image: 'nginx',
        replicas: 2,
        resources: { requests: { cpu: '500m', memory: '1073741824' } },
        labels: { a: 'b' },
        env: {},
      }),
    ).toEqual([]);
  });

  it('names each field edited out of band', () => {
    expect(driftedFields(desired, { ...desired, replicas: 5, labels: { a: 'c' } })).toEqual(['replicas', 'labels']);
  });
});

describe('quantityValue', () => {
  it('reads decimal, binary and exponent forms', () => {
    expect(quantityValue('250m')).toBeCloseTo(0.25);
    expect(quantityValue('2Ki')).toBe(2048);
    expect(quantityValue('1e3')).toBe(1000);
    expect(quantityValue('lots')).toBeNaN();
  });
});
