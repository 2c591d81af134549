import { ConfigError, loadConfig, natsServers } from './app-config.js';
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
    expect(c.JS_MAX_DELIVER).toBe(-1);
    expect(c.WORKER_BUSY_RETRY_MS).toBe(300);
    expect(c.RECONCILE_CRON).toBe('*/5 * * * *');
  });

  it('takes a comma-separated NATS_URL for a cluster, and shutdown and replica settings with defaults', () => {
    const c = loadConfig({ ...base, NATS_URL: 'nats://127.0.0.1:1, nats://127.0.0.1:2,tls://n3:4222' });
    expect(natsServers(c)).toEqual(['nats://127.0.0.1:1', 'nats://127.0.0.1:2', 'tls://n3:4222']);
    expect(() => loadConfig({ ...base, NATS_URL: 'nats://a:1,http://b:2' })).toThrow(/NATS_URL/);
    expect(c.SHUTDOWN_TIMEOUT_MS).toBe(25_000);
    expect(c.JS_REPLICAS).toBe(1);
    expect(() => loadConfig({ ...base, SHUTDOWN_TIMEOUT_MS: '4000', SHUTDOWN_READINESS_DELAY_MS: '3000' })).toThrow(
      /SHUTDOWN_READINESS_DELAY_MS/,
    );
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

describe('retry budget (worker role)', () => {
  const worker = { ...base, ROLE: 'worker' };

  it('accepts the defaults: retries bounded by the deadline, no delivery cap', () => {
    const c = loadConfig(worker);
    expect(c.JS_MAX_DELIVER).toBe(-1);
    expect(c.REQUEST_DEADLINE_MS).toBe(900_000);
  });

  it('refuses a finite JS_MAX_DELIVER whose retries end before the deadline, naming the variables', () => {
    // The old default: 1+2+4+8+16 s of retrying against a 15-minute deadline.
    expect(() => loadConfig({ ...worker, JS_MAX_DELIVER: '6' })).toThrow(
      /JS_MAX_DELIVER: 6 deliveries with JS_BACKOFF_BASE_MS=1000 and JS_BACKOFF_MAX_MS=60000 retry for only 31000 ms, less than REQUEST_DEADLINE_MS=900000/,
    );
    // 1+2+4+8+16+32 s, then 60 s each: 14 more reach 15 minutes.
    expect(() => loadConfig({ ...worker, JS_MAX_DELIVER: '20' })).toThrow(/JS_MAX_DELIVER: 20/);
    expect(loadConfig({ ...worker, JS_MAX_DELIVER: '21' }).JS_MAX_DELIVER).toBe(21);
  });

  it('refuses JS_MAX_DELIVER=0 and values below -1', () => {
    expect(() => loadConfig({ ...worker, JS_MAX_DELIVER: '0' })).toThrow(
      /JS_MAX_DELIVER: must be -1 \(unlimited\) or at least 1/,
    );
    expect(() => loadConfig({ ...worker, JS_MAX_DELIVER: '-2' })).toThrow(/JS_MAX_DELIVER/);
  });

  it('refuses a backoff, call timeout or busy retry that does not fit in the deadline', () => {
    expect(() => loadConfig({ ...worker, REQUEST_DEADLINE_MS: '60000' })).toThrow(
      /JS_BACKOFF_MAX_MS: 60000 must be below REQUEST_DEADLINE_MS=60000/,
    );
    expect(() => loadConfig({ ...worker, REQUEST_DEADLINE_MS: '10000', JS_BACKOFF_MAX_MS: '5000' })).toThrow(
      /KUBE_REQUEST_TIMEOUT_MS: 15000 must be below REQUEST_DEADLINE_MS=10000/,
    );
    expect(() => loadConfig({ ...worker, JS_BACKOFF_BASE_MS: '2000', JS_BACKOFF_MAX_MS: '1000' })).toThrow(
      /JS_BACKOFF_BASE_MS: 2000 is above JS_BACKOFF_MAX_MS=1000/,
    );
    expect(() => loadConfig({ ...worker, WORKER_BUSY_RETRY_MS: '900000' })).toThrow(/WORKER_BUSY_RETRY_MS: 900000/);
  });

  it('leaves roles that do not retry alone', () => {
    expect(loadConfig({ ...base, ROLE: 'api', REQUEST_DEADLINE_MS: '3000' }).REQUEST_DEADLINE_MS).toBe(3000);
  });
});
