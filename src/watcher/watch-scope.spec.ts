import { AppConfig } from '../config/app-config.js';
import { NamespacePolicy } from '../domain/namespace-policy.js';
import { leaderLockName, scopeIncludes, watchScopes } from './watch-scope.js';

const config = (over: Partial<AppConfig>) => Object.assign(new AppConfig(), over);
const scopes = (over: Partial<AppConfig>) => {
  const c = config(over);
  return watchScopes(c, new NamespacePolicy(c));
};

describe('watchScopes', () => {
  it('gives each exact namespace its own stream, skipping system namespaces', () => {
    const s = scopes({ MANAGED_NAMESPACES: ['team-b', 'kube-system', 'team-a'] });
    expect(s.map((x) => x.namespace)).toEqual(['team-a', 'team-b']);
    expect(s[0].labelSelector).toBe('app.kubernetes.io/managed-by=k8s-deployment-manager');
    expect(scopeIncludes(s[0], 'team-a')).toBe(true);
    expect(scopeIncludes(s[0], 'team-b')).toBe(false);
  });

  it('watches all namespaces and filters when a pattern is configured', () => {
    const [s] = scopes({ MANAGED_NAMESPACES: ['team-*', 'ops'] });
    expect(s.namespace).toBeUndefined();
    expect(scopeIncludes(s, 'team-x')).toBe(true);
    expect(scopeIncludes(s, 'ops')).toBe(true);
    expect(scopeIncludes(s, 'other')).toBe(false);
    expect(scopeIncludes(s, undefined)).toBe(false);
  });

  it('drops the selector with WATCH_ALL_DEPLOYMENTS, which changes the key (no resuming a narrower stream)', () => {
    const narrow = scopes({ MANAGED_NAMESPACES: ['default'] });
    const all = scopes({ MANAGED_NAMESPACES: ['default'], WATCH_ALL_DEPLOYMENTS: true });
    expect(all[0].labelSelector).toBeUndefined();
    expect(all[0].key).not.toBe(narrow[0].key);
    expect(leaderLockName(all)).not.toBe(leaderLockName(narrow));
  });

  it('keeps keys within the column, distinct for long pattern lists', () => {
    const many = (p: string) => Array.from({ length: 40 }, (_, i) => `${p}-${i}-*`);
    const a = scopes({ MANAGED_NAMESPACES: many('alpha') })[0].key;
    const b = scopes({ MANAGED_NAMESPACES: many('bravo') })[0].key;
    expect(a.length).toBeLessThanOrEqual(255);
    expect(a).not.toBe(b);
  });
});
