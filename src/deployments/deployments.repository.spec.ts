import { newestPerKey } from './deployments.repository.js';
import type { MirrorRow } from './mirror-row.mapper.js';

const row = (name: string, resourceVersion: string) => ({ namespace: 'default', name, resourceVersion }) as MirrorRow;

describe('newestPerKey', () => {
  it('keeps the highest resourceVersion per object, compared as numbers', () => {
    const out = newestPerKey([row('a', '99'), row('b', '5'), row('a', '100'), row('a', '98')]);
    expect(out.map((r) => [r.name, r.resourceVersion]).sort()).toEqual([
      ['a', '100'],
      ['b', '5'],
    ]);
  });
});
