import type { DeploymentSpecPatch } from '../domain/deployment-spec.js';
import { DeploymentRequestEntity, Operation, SpecMode } from './deployment-request.entity.js';
import { revisionsOf } from './revisions.js';

let seq = 0;
const req = (operation: Operation, specMode: SpecMode, spec: DeploymentSpecPatch | null) =>
  ({ requestId: `r${++seq}`, operation, specMode, spec }) as DeploymentRequestEntity;

describe('revisionsOf', () => {
  it('numbers each CREATE, PUT and PATCH from 1, merging a PATCH over the revision before it', () => {
    const h = revisionsOf([
      req(Operation.CREATE, SpecMode.REPLACE, { image: 'a', replicas: 1 }),
      req(Operation.UPDATE, SpecMode.MERGE, { replicas: 3 }),
      req(Operation.UPDATE, SpecMode.REPLACE, { image: 'b', replicas: 2, env: { A: '1' } }),
      req(Operation.UPDATE, SpecMode.MERGE, { image: 'c' }),
    ]);
    expect(h.revisions.map((r) => [r.revision, r.line, r.spec])).toEqual([
      [1, 1, { image: 'a', replicas: 1 }],
      [2, 1, { image: 'a', replicas: 3 }],
      [3, 1, { image: 'b', replicas: 2, env: { A: '1' } }],
      [4, 1, { image: 'c', replicas: 2, env: { A: '1' } }],
    ]);
    expect(h.current).toBe(4);
  });

  it('ends a line at a DELETE and starts the next at a CREATE, numbers going on', () => {
    const del = req(Operation.DELETE, SpecMode.REPLACE, null);
    const h = revisionsOf([
      req(Operation.CREATE, SpecMode.REPLACE, { image: 'a', replicas: 1 }),
      del,
      req(Operation.UPDATE, SpecMode.MERGE, { replicas: 9 }),
      req(Operation.CREATE, SpecMode.REPLACE, { image: 'b', replicas: 1 }),
    ]);
    expect(h.revisions.map((r) => [r.revision, r.line])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(h.lines).toEqual([
      { line: 1, fromRevision: 1, toRevision: 1, deletedBy: del },
      { line: 2, fromRevision: 2, toRevision: 2, deletedBy: null },
    ]);
    expect(h.current).toBe(2);
    expect(revisionsOf([...h.revisions.map((r) => r.request), del]).current).toBeNull();
  });

  it('leaves out a PATCH whose full spec was never known here', () => {
    expect(revisionsOf([req(Operation.UPDATE, SpecMode.MERGE, { replicas: 2 })]).revisions).toEqual([]);
  });
});
