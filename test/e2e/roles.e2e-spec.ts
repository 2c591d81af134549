import { spawn, ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appEnv, dropTopology, eventually, testConfig, freePort } from '../support/harness.js';

const MAIN = 'dist/src/main.js';

/**
 * Preloaded into each process: records every module it loads (ESM and CommonJS) and, on
 * SIGUSR2, prints their URLs as one line and exits. So a test reads what a role evaluated.
 */
const RECORD_MODULES =
  'data:text/javascript,' +
  encodeURIComponent(`
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
    process.on('SIGUSR2', () => process.stdout.write('LOADED ' + JSON.stringify(loaded) + '\\n', () => process.exit(0)));
  `);

/** Ends a process started by start() and answers the URLs of the modules it had loaded. */
async function loadedModules(child: ChildProcess, output: () => string): Promise<string[]> {
  const exited = once(child, 'exit');
  child.kill('SIGUSR2');
  await exited;
  const line = /^LOADED (.*)$/m.exec(output());
  if (!line) throw new Error(`no module list in the output:\n${output().slice(-2000)}`);
  return JSON.parse(line[1]) as string[];
}

/** The packages only the API's HTTP edge uses: a process without the API must not load them. */
const API_ONLY =
  /\/node_modules\/(@nestjs\/swagger|@nestjs\/platform-fastify|fastify|@fastify\/[^/]+|@nestjs\/platform-express|express|helmet|swagger-ui-dist)\/|\/dist\/src\/(api\.bootstrap|api\.module|openapi)\.js$/;

function start(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn(process.execPath, ['--import', RECORD_MODULES, MAIN], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

// Boots the built image's entry point as operators run it: one process per role.
describe('ROLE-selected processes', () => {
  const config = testConfig();
  const baseEnv = appEnv(config) as Record<string, string>;

  afterAll(() => dropTopology(config));

  it('exits non-zero on an unknown role, naming it and the valid roles', async () => {
    const { child, output } = start({ ...baseEnv, ROLE: 'api,bogus' });
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(output()).toContain('unknown role "bogus"');
    expect(output()).toContain('api, worker, watcher, reconciler');
  });

  it('exits non-zero naming a bad variable', async () => {
    const { child, output } = start({ ...baseEnv, ROLE: 'worker', WORKER_CONCURRENCY: 'many' });
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(output()).toContain('WORKER_CONCURRENCY');
  });

  it.each(['worker', 'watcher', 'reconciler'])(
    'boots %s as a standalone process that reports healthy',
    async (role) => {
      const port = await freePort();
      const { child, output } = start({ ...baseEnv, ROLE: role, HEALTH_PORT: String(port) });
      try {
        const ready = await eventually(async () => {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          return res.status === 200 ? ((await res.json()) as { status: string }) : undefined;
        }, 60_000).catch((e: Error) => {
          throw new Error(`${e.message}\n${output()}`);
        });
        expect(ready.status).toBe('ok');
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
        expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('process_cpu_seconds_total');
        // Only health and metrics: no API routes on a non-api process.
        expect((await fetch(`http://127.0.0.1:${port}/v1/requests`)).status).toBe(404);
        // Nor the API's code: roles load lazily (app.module.ts), and Swagger, Fastify and
        // helmet cost every process memory at idle (issue 13).
        const modules = await loadedModules(child, output);
        expect(modules.some((u) => u.includes('/node_modules/@nestjs/core/'))).toBe(true);
        expect(modules.filter((u) => API_ONLY.test(u))).toEqual([]);
      } finally {
        await stop(child);
      }
    },
  );

  it('boots the api role with Swagger UI, /healthz and /readyz, and /metrics on HEALTH_PORT only', async () => {
    const [port, healthPort] = [await freePort(), await freePort()];
    const { child, output } = start({
      ...baseEnv,
      ROLE: 'api',
      HTTP_PORT: String(port),
      HEALTH_PORT: String(healthPort),
    });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 60_000).catch(
        (e: Error) => {
          throw new Error(`${e.message}\n${output()}`);
        },
      );
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const docs = await fetch(`http://127.0.0.1:${port}/docs`);
      expect(docs.status).toBe(200);
      expect(await docs.text()).toContain('swagger');
      const spec = (await (await fetch(`http://127.0.0.1:${port}/docs-json`)).json()) as {
        paths: Record<string, unknown>;
      };
      expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/deployments', '/v1/requests/{requestId}']));
      // Metrics are not public: off the API port, on the health port like every role.
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      const metrics = await fetch(`http://127.0.0.1:${healthPort}/metrics`);
      expect(await metrics.text()).toContain('process_cpu_seconds_total');
      expect((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status).toBe(200);
      // The other side of the non-API roles' check: the pattern does match what the API loads.
      const modules = await loadedModules(child, output);
      expect(modules.filter((u) => API_ONLY.test(u))).toEqual(
        expect.arrayContaining([expect.stringContaining('/node_modules/@nestjs/swagger/')]),
      );
      expect(modules.some((u) => u.includes('/node_modules/fastify/'))).toBe(true);
    } finally {
      await stop(child);
    }
  });
});
