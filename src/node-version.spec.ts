import { readFileSync } from 'node:fs';
import { nodeRequirement, nodeVersionProblem } from './node-version.js';

describe('node version rule', () => {
  const req = { name: 'k8s-deployment-manager', major: 22, minor: 19 };

  it('reads the rule from package.json engines.node', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(pkg.engines.node).toBe('>=22.19');
    expect(nodeRequirement()).toEqual(req);
  });

  it.each(['20.20.2', '22.0.0', '22.18.9', '18.19.1'])('refuses %s in one line naming both versions', (v) => {
    expect(nodeVersionProblem(v, req)).toBe(
      `k8s-deployment-manager needs Node >= 22.19 (this is v${v}); run through make, or put Node 22 on PATH`,
    );
  });

  it.each(['22.19.0', '22.23.5', '23.0.0', '24.1.0'])('accepts %s', (v) => {
    expect(nodeVersionProblem(v, req)).toBeUndefined();
  });
});
