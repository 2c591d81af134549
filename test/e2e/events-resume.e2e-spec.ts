import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  appEnv,
  db,
  deleteNamespace,
  dropTopology,
  eventually,
  freePort,
  http,
  testConfig,
  uniqueId,
} from '../support/harness.js';
import { openEventStream, type TestStream } from '../support/sse-client.js';

const MAIN = 'dist/src/main.js';
const STATUS_ORDER = ['CREATED', 'QUEUED', 'PROCESSING', 'SUCCESS'];
const ROLLOUT_ORDER = ['WAITING', 'PROGRESSING', 'COMPLETE'];

interface Proc {
  child: ChildProcess;
  output: () => string;
}

function start(env: NodeJS.ProcessEnv): Proc {
  let out = '';
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

/** Waits for /readyz on `port`, failing with the process's output. */
async function ready(p: Proc, port: number): Promise<void> {
  await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 60_000).catch(
    (e: Error) => {
      throw new Error(`${e.message}\n${p.output()}`);
    },
  );
}

// The SSE resume of issue 14 with processes as operators run them: a client follows its request
// on one API process, leaves, and resumes by Last-Event-ID on another; each process follows the
// events table on its own LISTEN session, so the resumed stream must fit the first one exactly.
describe('event stream resume across API processes', () => {
  const ns = `evr-e2e-${uniqueId()}`;
  const config = testConfig({ MANAGED_NAMESPACES: ns });
  const pool = db();
  const procs: Proc[] = [];
  const streams: TestStream[] = [];
  let apiA: string;
  let apiB: string;

  const startApi = async (): Promise<string> => {
    const [port, healthPort] = [await freePort(), await freePort()];
    const p = start(appEnv(config, { ROLE: 'api', HTTP_PORT: String(port), HEALTH_PORT: String(healthPort) }));
    procs.push(p);
    await ready(p, healthPort);
    return `http://127.0.0.1:${port}`;
  };

  beforeAll(async () => {
    [apiA, apiB] = await Promise.all([startApi(), startApi()]);
  });

  afterAll(async () => {
    for (const s of streams) s.close();
    await Promise.all(
      procs.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        await once(child, 'exit');
      }),
    );
    await pool.end();
    await dropTopology(config);
    await deleteNamespace(ns);
  });

  it('resumes on the other process with no event missing or repeated, through SUCCESS and rollout COMPLETE', async () => {
    const r = await http(apiA, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'web',
      image: 'nginx:1.27',
      replicas: 1,
    });
    expect(r.status).toBe(202);
    const requestId = r.body.requestId as string;

    // No worker yet, so the request cannot get past its intake while the first stream is open.
    const first = await openEventStream(apiA, `?requestId=${requestId}&lastEventId=0`);
    streams.push(first);
    expect(first.status).toBe(200);
    await eventually(async () => first.ids().length >= 1);
    first.close();
    const firstIds = first.ids();
    const lastId = firstIds.at(-1)!;

    // While no client is connected, the worker applies the request and the watcher follows the rollout.
    const healthPort = await freePort();
    const worker = start(appEnv(config, { ROLE: 'worker,watcher', HEALTH_PORT: String(healthPort) }));
    procs.push(worker);
    await ready(worker, healthPort);
    await eventually(async () => {
      const got = await http(apiB, 'GET', `/v1/requests/${requestId}`);
      return got.body.status === 'SUCCESS';
    }, 60_000);

    const second = await openEventStream(apiB, `?requestId=${requestId}`, { 'last-event-id': String(lastId) });
    streams.push(second);
    expect(second.status).toBe(200);
    await eventually(async () => second.data('request.rollout').some((d) => d.rollout.state === 'COMPLETE'), 90_000);
    second.close();

    const seen = [...first.events, ...second.events].filter((e) => e.id !== undefined);
    const ids = seen.map((e) => Number(e.id));
    expect(second.ids()[0]).toBeGreaterThan(lastId);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    // Exactly the request's rows of the events table, from its first event to the last one seen.
    const { rows } = await pool.query<{ id: string }>(
      `SELECT id FROM events WHERE request_id = $1 AND id <= $2 ORDER BY id`,
      [requestId, ids.at(-1)],
    );
    expect(ids).toEqual(rows.map((row) => Number(row.id)));

    const statuses = seen.filter((e) => e.event === 'request.status').map((e) => JSON.parse(e.data).status);
    // QUEUED may be skipped when the worker claims the request before the intake marks it.
    expect(statuses[0]).toBe('CREATED');
    expect(statuses.at(-1)).toBe('SUCCESS');
    expect(statuses.map((s) => STATUS_ORDER.indexOf(s))).toEqual(
      statuses.map((s) => STATUS_ORDER.indexOf(s)).sort((a, b) => a - b),
    );
    expect(new Set(statuses).size).toBe(statuses.length);

    const states = seen.filter((e) => e.event === 'request.rollout').map((e) => JSON.parse(e.data).rollout.state);
    expect(states[0]).toBe('WAITING');
    expect(states.at(-1)).toBe('COMPLETE');
    expect(states.map((s) => ROLLOUT_ORDER.indexOf(s))).toEqual(
      states.map((s) => ROLLOUT_ORDER.indexOf(s)).sort((a, b) => a - b),
    );
  });
});
