import { ConfigError, loadConfig } from './app-config.js';
import { parseRoles } from './roles.js';

const base = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', NATS_URL: 'nats://127.0.0.1:4222' };

describe('loadConfig', () => {
  it('applies documented defaults and parses types', () => {
    const c = loadConfig({
      ...base,
      WORKER_CONCURRENCY: '8',
      DATABASE_POOL_SIZE: '20',
      CREATE_NAMESPACES: 'false',
      MANAGED_NAMESPACES: 'a, team-*',
    });
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
    expect(() => parseRoles('api,bogus')).toThrow(
      'unknown role "bogus"; valid roles: api, worker, watcher, reconciler or all',
    );
    expect(() => parseRoles(' , ')).toThrow(/ROLE is empty/);
  });
});

describe('cross-field checks', () => {
  it('asks for a pool large enough for the worker concurrency', () => {
    expect(() => loadConfig({ ...base, ROLE: 'worker', WORKER_CONCURRENCY: '8' })).toThrow(
      /DATABASE_POOL_SIZE: 10 is too small for WORKER_CONCURRENCY=8; the worker needs at least 18/,
    );
    expect(loadConfig({ ...base, ROLE: 'api', WORKER_CONCURRENCY: '8' }).WORKER_CONCURRENCY).toBe(8);
  });

  it('allows RECONCILE_ONCE only for a lone reconciler', () => {
    expect(() => loadConfig({ ...base, ROLE: 'all', RECONCILE_ONCE: 'true' })).toThrow(/needs ROLE=reconciler/);
    expect(loadConfig({ ...base, ROLE: 'reconciler', RECONCILE_ONCE: 'true' }).RECONCILE_ONCE).toBe(true);
  });
});
