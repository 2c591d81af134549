import { quantityValue } from '../domain/quantity.js';
import { Operation, SpecMode } from '../requests/deployment-request.entity.js';
import { desiredSpecs, desiredStates, driftedFields, healKey, SuccessfulRequest } from './drift.js';

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

describe('desiredStates', () => {
  it('remembers the request that last changed the desired spec', () => {
    const create = req(Operation.CREATE, SpecMode.REPLACE, { image: 'a', replicas: 1 });
    const patch = req(Operation.UPDATE, SpecMode.MERGE, { replicas: 3 });
    expect(desiredStates([create]).get('ns/web')?.basis).toBe(create.requestId);
    expect(desiredStates([create, patch]).get('ns/web')).toEqual({
      spec: { image: 'a', replicas: 3 },
      basis: patch.requestId,
    });
  });
});

describe('healKey', () => {
  const visibleAscii = /^[\x21-\x7e]{1,255}$/;

  it('is the same for the same target, basis and body, whatever the pass', () => {
    const body = { specMode: 'REPLACE', spec: { image: 'a', replicas: 2, env: { B: '2', A: '1' } } };
    const again = { specMode: 'REPLACE', spec: { env: { A: '1', B: '2' }, replicas: 2, image: 'a' } };
    expect(healKey('ns', 'web', 'r1', body)).toBe(healKey('ns', 'web', 'r1', again));
    expect(healKey('ns', 'web', 'r1', body)).toMatch(/^heal:ns\/web:[0-9a-f]{32}$/);
  });

  it('differs for another target, another basis or another body', () => {
    const body = { spec: { image: 'a', replicas: 2 } };
    const key = healKey('ns', 'web', 'r1', body);
    expect(healKey('ns', 'api', 'r1', body)).not.toBe(key);
    expect(healKey('ns', 'web', 'r2', body)).not.toBe(key);
    expect(healKey('ns', 'web', 'r1', { spec: { image: 'b', replicas: 2 } })).not.toBe(key);
  });

  it('stays within the Idempotency-Key rules for the longest names', () => {
    const key = healKey('n'.repeat(63), 'x'.repeat(253), 'r', {});
    expect(key).toMatch(visibleAscii);
    expect(healKey('n'.repeat(63), 'y'.repeat(253), 'r', {})).not.toBe(key);
    expect(healKey('ns', 'web', 'r', {})).toMatch(visibleAscii);
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
