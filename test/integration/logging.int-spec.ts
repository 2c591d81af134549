import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { bootstrap, type Running } from '../../src/bootstrap.js';
import type { AppConfig } from '../../src/config/app-config.js';
import {
  appEnv,
  db,
  deleteNamespace,
  dropTopology,
  eventually,
  http,
  sameStreams,
  settled,
  testConfig,
  uniqueId,
} from '../support/harness.js';

type Line = Record<string, any>;

/** A role as operators run it, its stdout read as JSON lines (LOG_LEVEL=info, LOG_FORMAT=json). */
class RoleProcess {
  readonly child: ChildProcess;
  private out = '';
  stderr = '';

  constructor(config: AppConfig, role: string) {
    this.child = spawn(process.execPath, ['dist/src/main.js'], {
      env: appEnv(config, { ROLE: role, HTTP_PORT: '0', LOG_LEVEL: 'info', LOG_FORMAT: 'json' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  get text(): string {
    return this.out + this.stderr;
  }

  /** Complete stdout lines, parsed (a line that is not JSON fails the test that reads it). */
  lines(): Line[] {
    return this.out
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as Line);
  }

  find(pred: (l: Line) => boolean, timeoutMs = 30_000): Promise<Line> {
    return eventually(async () => this.lines().find(pred), timeoutMs);
  }

  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await once(this.child, 'exit');
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// One request id end to end, read from the processes' real output: the API echoes and logs the
// X-Request-Id, stores it with the request, NATS carries it, and the worker's lines name it.
describe('logs', () => {
  const ns = `lg-${uniqueId()}`;
  const pool = db();
  const config = testConfig({
    ROLE: 'api',
    MANAGED_NAMESPACES: ns,
    OUTBOX_RELAY_INTERVAL_MS: '200',
    OUTBOX_RELAY_MIN_AGE_MS: '0',
  });
  let api: RoleProcess;
  let worker: RoleProcess;
  let apiUrl: string;
  const inProcess: Running[] = [];

  beforeAll(async () => {
    api = new RoleProcess(config, 'api');
    worker = new RoleProcess(config, 'worker');
    const started = await api.find((l) => /API on http/.test(l.msg), 60_000);
    apiUrl = /API on (http:\/\/[^\s"]+)/.exec(started.msg)![1];
  });

  afterAll(async () => {
    for (const app of inProcess) await app.close();
    await api?.stop();
    await worker?.stop();
    await pool.end();
    await dropTopology(config);
    await deleteNamespace(ns);
  });

  const accessLine = (p: RoleProcess, correlationId: string) =>
    p.find((l) => l.correlationId === correlationId && typeof l.responseTime === 'number');

  it('echoes the X-Request-Id, stores it, and puts it on the API access line and on the worker lines about that request', async () => {
    const correlationId = `it-${uniqueId()}`;
    const created = await http(
      apiUrl,
      'POST',
      '/v1/deployments',
      { namespace: ns, name: 'web', image: 'nginx:1.27', replicas: 1 },
      { 'x-request-id': correlationId },
    );
    expect(created.status).toBe(202);
    expect(created.headers.get('x-request-id')).toBe(correlationId);
    const requestId: string = created.body.requestId;
    expect((await settled(apiUrl, requestId)).status).toBe('SUCCESS');

    const stored = await pool.query('SELECT correlation_id FROM deployment_requests WHERE request_id = $1', [
      requestId,
    ]);
    expect(stored.rows[0].correlation_id).toBe(correlationId);

    const access = await accessLine(api, correlationId);
    expect(access).toMatchObject({
      level: 'info',
      role: 'api',
      correlationId,
      req: { method: 'POST', route: '/v1/deployments', url: '/v1/deployments' },
      res: { statusCode: 202 },
    });
    expect(access.req).not.toHaveProperty('body');

    const applied = await worker.find((l) => l.requestId === requestId && /succeeded/.test(l.msg));
    expect(applied).toMatchObject({ role: 'worker', correlationId, context: 'RequestProcessor' });
    // Every worker line naming this request carries the API's id too.
    const aboutIt = worker.lines().filter((l) => l.requestId === requestId);
    expect(aboutIt.map((l) => l.correlationId)).toEqual(aboutIt.map(() => correlationId));
  });

  it.each([
    ['with a space', 'bad id'],
    ['too long', 'x'.repeat(129)],
    ['missing', ''],
  ])('replaces an X-Request-Id %s with a new one, echoed and logged', async (_case, sent) => {
    const r = await http(apiUrl, 'GET', '/v1/requests?limit=1', undefined, { 'x-request-id': sent });
    expect(r.status).toBe(200);
    const id = r.headers.get('x-request-id')!;
    expect(id).toMatch(UUID);
    expect(await accessLine(api, id)).toMatchObject({ req: { route: '/v1/requests' }, res: { statusCode: 200 } });
    expect(api.text).not.toContain(`"correlationId":"${sent}"`);
  });

  it('the outbox relay publishes a request left CREATED with its stored correlation id', async () => {
    // An API that cannot reach NATS stores the request CREATED; the API process relays it.
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const offline = await bootstrap(sameStreams(config, { ROLE: 'api', NATS_URL: 'nats://127.0.0.1:9' }), {
      exitOnFatalErrors: false,
      logDestination: sink,
    });
    inProcess.push(offline);
    const correlationId = `relay-${uniqueId()}`;
    const created = await http(
      offline.apiUrl!,
      'POST',
      '/v1/deployments',
      { namespace: ns, name: 'relayed', image: 'nginx:1.27', replicas: 1 },
      { 'x-request-id': correlationId },
    );
    expect(created.status).toBe(202);
    expect(created.body.status).toBe('CREATED');
    expect((await settled(apiUrl, created.body.requestId)).status).toBe('SUCCESS');
    expect(await worker.find((l) => l.requestId === created.body.requestId && /succeeded/.test(l.msg))).toMatchObject({
      correlationId,
    });
  });

  it('never writes an Authorization header, an API key or an env value', async () => {
    const secretEnv = `hunter2-${uniqueId()}`;
    const keyInUrl = `kdm_${uniqueId(32)}`;
    const id = `secrets-${uniqueId()}`;
    const created = await http(
      apiUrl,
      'POST',
      '/v1/deployments',
      { namespace: ns, name: 'secret', image: 'nginx:1.27', replicas: 1, env: { DB_PASSWORD: secretEnv } },
      { 'x-request-id': id, cookie: 'session=cookie-secret' },
    );
    expect((await settled(apiUrl, created.body.requestId)).status).toBe('SUCCESS');
    const refused = await http(apiUrl, 'GET', `/v1/requests?token=${keyInUrl}`, undefined, {
      'x-request-id': `${id}-2`,
    });
    expect(refused.status).toBe(400);

    const access = await accessLine(api, id);
    expect(access.req.headers).toMatchObject({ authorization: '[REDACTED]', cookie: '[REDACTED]' });
    expect((await accessLine(api, `${id}-2`)).req.url).toBe('/v1/requests?token=kdm_[REDACTED]');
    await worker.find((l) => l.requestId === created.body.requestId && /succeeded/.test(l.msg));
    for (const p of [api, worker]) {
      for (const secret of [process.env.ADMIN_API_KEY!, keyInUrl, secretEnv, 'cookie-secret'])
        expect(p.text).not.toContain(secret);
      // Every line is JSON and names its process's role.
      expect(p.lines().filter((l) => l.role !== (p === api ? 'api' : 'worker'))).toEqual([]);
    }
  });
});
