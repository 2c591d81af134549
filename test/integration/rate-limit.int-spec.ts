import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { useSuite } from '../support/fixture.js';
import { appEnv, eventually, http, uniqueId, freePort } from '../support/harness.js';

/** An API process as operators run it (node dist/src/main.js), so @nestjs/throttler loads as in production. */
async function apiProcess(env: NodeJS.ProcessEnv): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  let out = '';
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: { ...env, ROLE: 'api', HTTP_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${url}/readyz`)).status === 200, 60_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${out}`);
  });
  return { url, child };
}

const WINDOW_MS = 3000;
const LIMIT = 3;

// The limit is counted in PostgreSQL, so it holds across API processes: two of them share one
// budget per caller, answer 429 with Retry-After over it, and let the caller in again once the
// window has passed.
describe('rate limits shared by API processes', () => {
  const ns = `rl-${uniqueId()}`;
  const suite = useSuite({ env: { ROLE: 'api', MANAGED_NAMESPACES: ns } });
  const apis: { url: string; child: ChildProcess }[] = [];

  beforeAll(async () => {
    const env = appEnv(suite.config, {
      RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
      RATE_LIMIT_MAX: String(LIMIT),
      RATE_LIMIT_ANONYMOUS_MAX: String(LIMIT),
      // The test is the proxy: each case sends its own X-Forwarded-For, so it has its own budget.
      TRUST_PROXY: 'loopback',
    });
    apis.push(await apiProcess(env), await apiProcess(env));
  });

  afterAll(async () => {
    for (const { child } of apis) {
      if (child.exitCode !== null) continue;
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  const address = () => `10.${[1, 2, 3].map(() => Math.floor(Math.random() * 250) + 1).join('.')}`;
  const call = (api: number, headers: Record<string, string>) =>
    http(apis[api].url, 'GET', `/v1/requests?namespace=${ns}`, undefined, headers);

  it('answers 429 with Retry-After once one caller has used the limit across both processes, then lifts', async () => {
    const ip = address();
    const anonymous = { authorization: '', 'x-forwarded-for': ip };
    const statuses = [];
    for (const api of [0, 1, 0]) statuses.push((await call(api, anonymous)).status);
    expect(statuses).not.toContain(429);

    for (const api of [1, 0]) {
      const limited = await call(api, anonymous);
      expect(limited.status).toBe(429);
      expect(limited.body).toMatchObject({ statusCode: 429, code: 'RateLimited' });
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(Math.ceil(WINDOW_MS / 1000));
    }
    // Another caller has its own budget.
    expect((await call(1, { authorization: '', 'x-forwarded-for': address() })).status).not.toBe(429);

    // The window passes: the same caller is let in again, on either process.
    const lifted = await eventually(async () => {
      const r = await call(1, anonymous);
      return r.status !== 429 ? r : undefined;
    }, 30_000);
    expect(lifted.status).not.toBe(429);
  });

  it('deletes windows that ended (the sweep API processes run every minute from their calls)', async () => {
    const key = `api:ip:${address()}`;
    await suite.pool.query(
      `INSERT INTO rate_limit_windows (key, hits, expires_at) VALUES ($1, 5, now() - interval '2 minutes')`,
      [key],
    );
    const { RateLimitRepository } = await import('../../src/http/rate-limit.repository.js');
    const repo = suite.app.app.get(RateLimitRepository);
    expect(await repo.deleteExpired()).toBeGreaterThanOrEqual(1);
    expect((await suite.pool.query('SELECT 1 FROM rate_limit_windows WHERE key = $1', [key])).rows).toEqual([]);
  });

  // Needs the auth branch (i10-auth): keys resolved by AuthenticationGuard are counted per key.
  it('counts per API key: a key over its limit is refused on both processes, another key is not', async () => {
    const key = async () => {
      const r = await http(suite.api, 'POST', '/v1/api-keys', {
        name: `rl-${uniqueId()}`,
        role: 'reader',
        namespaces: [ns],
      });
      expect(r.status).toBe(201);
      return { authorization: `Bearer ${r.body.key}`, 'x-forwarded-for': address() };
    };
    const [first, second] = [await key(), await key()];
    const statuses = [];
    for (const api of [0, 1, 0, 1]) statuses.push((await call(api, first)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // Same address as the limited key, another key: its own budget.
    expect((await call(0, { ...second, 'x-forwarded-for': first['x-forwarded-for'] })).status).toBe(200);
  });
});
