import { ConfigError, loadConfig } from './app-config.js';
import { parseRoles } from './roles.js';

const base = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', NATS_URL: 'nats://127.0.0.1:4222' };

describe('loadConfig', () => {
  it('applies documented defaults and parses types', () => {
    const c = loadConfig({ ...base, WORKER_CONCURRENCY: '8', CREATE_NAMESPACES: 'false', MANAGED_NAMESPACES: 'a, team-*' });
    expect(c.roles).toEqual(['api', 'worker', 'watcher', 'reconciler']);
    expect(c.WORKER_CONCURRENCY).toBe(8);
    expect(c.CREATE_NAMESPACES).toBe(false);
    expect(c.MANAGED_NAMESPACES).toEqual(['a', 'team-*']);
    expect(c.JS_MAX_DELIVER).toBe(6);
    expect(c.RECONCILE_CRON).toBe('*/5 * * * *');
  });

  it('names every missing or bad variable', () => {
    expect(() => loadConfig({ WORKER_CONCURRENCY: 'lots', SELF_HEAL: 'maybe' })).toThrow(ConfigError);
    try {
      loadConfig({ WORKER_CONCURRENCY: 'lots', SELF_HEAL: 'maybe' });
    } catch (e) {
      const m = (e as Error).message;
      for (const v of ['DATABASE_URL', 'NATS_URL', 'WORKER_CONCURRENCY', 'SELF_HEAL']) expect(m).toContain(v);
    }
  });

  it('rejects a namespace pattern that is not a DNS label', () => {
    expect(() => loadConfig({ ...base, MANAGED_NAMESPACES: 'Bad_NS' })).toThrow(/MANAGED_NAMESPACES/);
  });
});

describe('parseRoles', () => {
  it('accepts a comma-separated subset in canonical order', () => {
    expect(parseRoles('watcher, api')).toEqual(['api', 'watcher']);
    expect(parseRoles('all')).toEqual(['api', 'worker', 'watcher', 'reconciler']);
  });

  it('names an unknown role and lists the valid ones', () => {
    expect(() => parseRoles('api,bogus')).toThrow('unknown role "bogus"; valid roles: api, worker, watcher, reconciler or all');
    expect(() => parseRoles(' , ')).toThrow(/ROLE is empty/);
  });
});
