import { namespaceAllowed } from './namespace-policy.js';

describe('namespaceAllowed', () => {
  it('matches exact names, prefixes and *', () => {
    expect(namespaceAllowed('default', ['default'])).toBe(true);
    expect(namespaceAllowed('team-a', ['team-*'])).toBe(true);
    expect(namespaceAllowed('other', ['default', 'team-*'])).toBe(false);
    expect(namespaceAllowed('anything', ['*'])).toBe(true);
  });

  it('always refuses the Kubernetes system namespaces', () => {
    for (const ns of ['kube-system', 'kube-public', 'kube-node-lease'])
      expect(namespaceAllowed(ns, ['*', 'kube-*', ns])).toBe(false);
  });
});
