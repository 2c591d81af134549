import { EventHub } from '../../src/events/event-hub.js';
import { EventStreamsService } from '../../src/events/event-streams.service.js';
import { useSuite } from '../support/fixture.js';
import { eventually, http, settled, uniqueId } from '../support/harness.js';
import { openEventStream, type TestStream } from '../support/sse-client.js';

const STATUS_ORDER = ['CREATED', 'QUEUED', 'PROCESSING', 'SUCCESS'];
const receipt = (state: string) => ({
  state,
  generation: 1,
  observedGeneration: state === 'WAITING' ? null : 1,
  replicas: { desired: 1, updated: 1, ready: state === 'COMPLETE' ? 1 : 0, available: 0 },
  reason: null,
  message: null,
  completedAt: null,
});

// GET /v1/events on the real stack: triggers write the events table, each API process follows
// it through its LISTEN session, and clients resume by Last-Event-ID on any process.
describe('event stream (SSE)', () => {
  const id = uniqueId();
  const nsA = `ev-${id}-a`;
  const nsB = `ev-${id}-b`;
  const suite = useSuite({
    namespaces: [nsA, nsB],
    createNamespaces: true,
    env: { ROLE: 'api,worker', MANAGED_NAMESPACES: `ev-${id}-*`, EVENT_STREAMS_PER_KEY: '3' },
  });
  const streams: TestStream[] = [];
  const open = async (base: string, query = '', headers: Record<string, string> = {}) => {
    const s = await openEventStream(base, query, headers);
    streams.push(s);
    return s;
  };
  afterEach(() => {
    for (const s of streams.splice(0)) s.close();
  });
  const live = (s: TestStream) => eventually(async () => s.raw.includes(': live'));
  const create = async (namespace: string, name: string) => {
    const r = await http(suite.api, 'POST', '/v1/deployments', { namespace, name, image: 'nginx:1.27', replicas: 1 });
    expect(r.status).toBe(202);
    return r.body.requestId as string;
  };
  const ofRequest = (s: TestStream, requestId: string) =>
    s.data('request.status').filter((d) => d.requestId === requestId);

  it('streams request.status of a request in order as it happens, and request.rollout when the receipt changes', async () => {
    const s = await open(suite.api, `?namespace=${nsA}`);
    expect(s.status).toBe(200);
    expect(s.headers['content-type']).toMatch(/^text\/event-stream/);
    await live(s);
    const requestId = await create(nsA, 'web');
    await eventually(async () => ofRequest(s, requestId).some((d) => d.status === 'SUCCESS'));

    const statuses = ofRequest(s, requestId).map((d) => d.status);
    // QUEUED may be skipped when the worker claims the request before the intake marks it.
    expect(statuses[0]).toBe('CREATED');
    expect(statuses.at(-1)).toBe('SUCCESS');
    expect(statuses.map((st) => STATUS_ORDER.indexOf(st))).toEqual(
      [...statuses.map((st) => STATUS_ORDER.indexOf(st))].sort((a, b) => a - b),
    );
    expect(new Set(statuses).size).toBe(statuses.length);
    const ids = s.ids();
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(s.events.find((e) => e.event === 'request.status')?.id).toBeDefined();
    expect(ofRequest(s, requestId)[0]).toMatchObject({ namespace: nsA, name: 'web', operation: 'CREATE' });

    // The worker writes the receipt (WAITING) at SUCCESS; with no watcher here nothing moves it
    // on, so it is driven by hand: a change writes one event, an unchanged value none.
    await eventually(async () => s.data('request.rollout').some((d) => d.requestId === requestId));
    const complete = receipt('COMPLETE');
    const set = () =>
      suite.pool.query(`UPDATE deployment_requests SET rollout = $2 WHERE request_id = $1`, [
        requestId,
        JSON.stringify(complete),
      ]);
    await set();
    await set();
    await eventually(async () => s.data('request.rollout').some((d) => d.rollout.state === 'COMPLETE'));
    const rollouts = s.events.filter(
      (e) => e.event === 'request.rollout' && JSON.parse(e.data).requestId === requestId,
    );
    expect(JSON.parse(rollouts[0].data).rollout.state).toBe('WAITING');
    expect(rollouts.filter((e) => JSON.parse(e.data).rollout.state === 'COMPLETE')).toHaveLength(1);
    expect(JSON.parse(rollouts.at(-1)!.data)).toMatchObject({ requestId, rollout: complete });
    const { rows } = await suite.pool.query<{ id: string }>(
      `SELECT id FROM events WHERE type = 'request.rollout' AND request_id = $1 ORDER BY id`,
      [requestId],
    );
    expect(rollouts.map((e) => Number(e.id))).toEqual(rows.map((r) => Number(r.id)));
  });

  it('resumes by Last-Event-ID on another API process with no event missing or repeated', async () => {
    const other = await suite.extraApp({ ROLE: 'api' });
    const first = await open(suite.api, `?namespace=${nsA}`);
    await live(first);
    const r1 = await create(nsA, 'resume-1');
    await eventually(async () => ofRequest(first, r1).length >= 1);
    // Leave after the first event; everything else happens while no client is connected.
    first.close();
    const lastId = Math.max(...first.ids());
    await settled(suite.api, r1);
    const r2 = await create(nsA, 'resume-2');
    await settled(suite.api, r2);

    const second = await open(other.apiUrl!, `?namespace=${nsA}`, { 'last-event-id': String(lastId) });
    await eventually(async () => ofRequest(second, r2).some((d) => d.status === 'SUCCESS'));
    const { rows } = await suite.pool.query<{ id: string }>(
      `SELECT id FROM events WHERE namespace = $1 AND id > $2 AND id <= $3 ORDER BY id`,
      [nsA, Math.min(...first.ids()) - 1, Math.max(...second.ids())],
    );
    expect([...first.ids(), ...second.ids()]).toEqual(rows.map((r) => Number(r.id)));
    expect(second.ids()[0]).toBeGreaterThan(lastId);
  });

  it("shows a key scoped to one namespace nothing of another namespace's events", async () => {
    const key = await http(suite.api, 'POST', '/v1/api-keys', {
      name: `ev-a-${id}`,
      role: 'reader',
      namespaces: [nsA],
    });
    expect(key.status).toBe(201);
    const scoped = await open(suite.api, '', { authorization: `Bearer ${key.body.key}` });
    const everyone = await open(suite.api);
    await live(scoped);
    await live(everyone);
    const inB = await create(nsB, 'hidden');
    await settled(suite.api, inB);
    const inA = await create(nsA, 'shown');
    await eventually(async () => ofRequest(scoped, inA).some((d) => d.status === 'SUCCESS'));
    // The admin stream saw B's events, all before A's last one; the scoped stream saw none.
    await eventually(async () => ofRequest(everyone, inB).some((d) => d.status === 'SUCCESS'));
    expect(scoped.events.filter((e) => e.id !== undefined).every((e) => JSON.parse(e.data).namespace === nsA)).toBe(
      true,
    );
    expect(ofRequest(scoped, inB)).toEqual([]);
    // Asking for the other namespace by name gives nothing either.
    const asked = await open(suite.api, `?namespace=${nsB}&lastEventId=0&follow=false`, {
      authorization: `Bearer ${key.body.key}`,
    });
    await asked.done;
    expect(asked.ids()).toEqual([]);
  });

  it('refuses a stream over EVENT_STREAMS_PER_KEY with 429, and takes one again once a stream closes', async () => {
    const key = await http(suite.api, 'POST', '/v1/api-keys', {
      name: `ev-limit-${id}`,
      role: 'reader',
      namespaces: ['*'],
    });
    const auth = { authorization: `Bearer ${key.body.key}` };
    const held = [await open(suite.api, '', auth), await open(suite.api, '', auth), await open(suite.api, '', auth)];
    expect(held.map((s) => s.status)).toEqual([200, 200, 200]);
    const refused = await open(suite.api, '', auth);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'TooManyEventStreams' });
    expect(refused.body.message).toContain('EVENT_STREAMS_PER_KEY=3');
    expect(refused.headers['retry-after']).toBeDefined();
    // Another key is not affected.
    expect((await open(suite.api)).status).toBe(200);
    held[0].close();
    await eventually(async () => {
      const again = await open(suite.api, '', auth);
      if (again.status !== 200) return false;
      return true;
    });
  });

  it('answers 400 naming a bad filter or resume point', async () => {
    const bad = await http(suite.api, 'GET', '/v1/events?types=request.status,bogus');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.message)).toContain('types must be');
    const header = await openEventStream(suite.api, '', { 'last-event-id': 'x' });
    expect(header.status).toBe(400);
    expect(header.body.message).toContain('Last-Event-ID');
  });

  it('sends a reset for a resume point older than the retention, then goes on from the oldest event kept', async () => {
    const requestId = await create(nsA, 'old');
    await settled(suite.api, requestId);
    const { rows } = await suite.pool.query<{ id: string }>(`SELECT id FROM events WHERE request_id = $1 ORDER BY id`, [
      requestId,
    ]);
    const ids = rows.map((r) => Number(r.id));
    expect(ids.length).toBeGreaterThanOrEqual(3);
    // The first two events of this request are past the retention.
    await suite.pool.query(`UPDATE events SET created_at = now() - interval '48 hours' WHERE id = ANY($1::bigint[])`, [
      ids.slice(0, 2),
    ]);
    expect(await suite.app.app.get(EventHub).purge()).toBeGreaterThanOrEqual(2);

    const s = await open(suite.api, `?requestId=${requestId}&follow=false`, { 'last-event-id': String(ids[0] - 1) });
    await s.done;
    expect(s.events[0].event).toBe('reset');
    expect(JSON.parse(s.events[0].data)).toMatchObject({ reason: 'expired', resumedAfter: ids[1] });
    expect(s.ids()).toEqual(ids.slice(2));
  });

  it('cuts off a client that does not read with a final error event, keeping what it sent in order', async () => {
    const app = await suite.extraApp({ ROLE: 'api', EVENT_STREAM_BUFFER_BYTES: '1024', EVENT_HEARTBEAT_MS: '200' });
    const s = await open(app.apiUrl!, `?namespace=${nsB}&name=flood`);
    await live(s);
    await eventually(async () => s.raw.includes(': heartbeat'));
    s.pause();
    // Far more than the socket buffers hold (the events are written straight into the log).
    await suite.pool.query(
      `INSERT INTO events (type, namespace, name, payload)
       SELECT 'deployment.drift', $1, 'flood', jsonb_build_object('pad', repeat('x', 8000), 'n', n)
       FROM generate_series(1, 3000) n`,
      [nsB],
    );
    await suite.pool.query(`SELECT pg_notify('dm_events', '')`);
    await eventually(async () => app.app.get(EventStreamsService).openStreams === 0);
    s.resume();
    await s.done;
    const last = s.events.at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toMatchObject({ code: 'SlowClient' });
    const got = s.data('deployment.drift').map((d) => d.n);
    expect(got.length).toBeLessThan(3000);
    expect(got).toEqual(got.map((_, i) => i + 1));
  });

  it('ends streams at graceful shutdown, and answers a waiting long-poll with the current record', async () => {
    const app = await suite.extraApp({
      ROLE: 'api',
      SHUTDOWN_READINESS_DELAY_MS: '100',
      SHUTDOWN_TIMEOUT_MS: '10000',
    });
    const s = await open(app.apiUrl!);
    await live(s);
    const requestId = await create(nsA, 'shutdown');
    await settled(suite.api, requestId);
    const poll = http(app.apiUrl!, 'GET', `/v1/requests/${requestId}?wait=rollout&timeout=60`);
    await eventually(async () => s.raw.length > 0);
    await app.shutdown();
    await s.done;
    expect(s.ended).toBe(true);
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('SUCCESS');
    expect(answer.headers.get('retry-after')).toBe('1');
  });
});

// GET /v1/requests/{id}?wait=: the long-poll, with the worker started only after the call began.
describe('long-poll on a request', () => {
  const id = uniqueId();
  const ns = `lp-${id}`;
  const suite = useSuite({
    namespaces: [ns],
    createNamespaces: true,
    env: { ROLE: 'api', MANAGED_NAMESPACES: ns },
  });
  const create = async (name: string) => {
    const r = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name,
      image: 'nginx:1.27',
      replicas: 1,
    });
    expect(r.status).toBe(202);
    return r.body.requestId as string;
  };

  it('answers at the timeout with 200, the open record and Retry-After', async () => {
    const requestId = await create('stuck');
    const r = await http(suite.api, 'GET', `/v1/requests/${requestId}?wait=done&timeout=1`);
    expect(r.status).toBe(200);
    expect(['CREATED', 'QUEUED']).toContain(r.body.status);
    expect(r.headers.get('retry-after')).toBe('1');
  });

  it('answers as soon as the request is done', async () => {
    const requestId = await create('web');
    const poll = http(suite.api, 'GET', `/v1/requests/${requestId}?wait=done&timeout=60`);
    // The call is waiting on a request no worker has taken yet.
    const before = await http(suite.api, 'GET', `/v1/requests/${requestId}`);
    expect(['CREATED', 'QUEUED']).toContain(before.body.status);
    await suite.extraApp({ ROLE: 'worker' });
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('SUCCESS');
    expect(answer.headers.get('retry-after')).toBeNull();
  });

  it('answers 400 naming wait or timeout when they are bad, and ignores a timeout without wait', async () => {
    const requestId = await create('bad');
    const cases: [string, string][] = [
      ['wait=soon', 'wait must be one of done, rollout'],
      ['wait=done&timeout=61', 'timeout must be at most 60 seconds'],
      ['wait=done&timeout=0', 'timeout must be at least 1 second'],
      ['wait=done&timeout=1.5', 'timeout must be a whole number of seconds'],
    ];
    for (const [query, message] of cases) {
      const r = await http(suite.api, 'GET', `/v1/requests/${requestId}?${query}`);
      expect([query, r.status, JSON.stringify(r.body.message)]).toEqual([query, 400, expect.stringContaining(message)]);
    }
    const plain = await http(suite.api, 'GET', `/v1/requests/${requestId}?timeout=5`);
    expect([plain.status, plain.headers.get('retry-after')]).toEqual([200, null]);
  });
});

// Needs the receipts (the worker writes WAITING, the watcher moves it on): a request's stream
// shows its rollout from WAITING to COMPLETE with KWOK's pods.
describe('event stream with rollout receipts', () => {
  const id = uniqueId();
  const ns = `evr-${id}`;
  const suite = useSuite({
    namespaces: [ns],
    createNamespaces: true,
    env: { ROLE: 'api,worker,watcher', MANAGED_NAMESPACES: ns },
  });

  it('shows request.rollout from WAITING to COMPLETE, after the request.status SUCCESS', async () => {
    const r = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'web',
      image: 'nginx:1.27',
      replicas: 2,
    });
    expect(r.status).toBe(202);
    const requestId = r.body.requestId as string;
    const s = await openEventStream(suite.api, `?requestId=${requestId}&lastEventId=0`);
    try {
      await eventually(async () => s.data('request.rollout').some((d) => d.rollout.state === 'COMPLETE'), 60_000);
      const states = s.data('request.rollout').map((d) => d.rollout.state);
      expect(states[0]).toBe('WAITING');
      expect(states.at(-1)).toBe('COMPLETE');
      const order = s.events
        .filter((e) => e.id !== undefined)
        .map((e) => `${e.event}:${JSON.parse(e.data).status ?? JSON.parse(e.data).rollout?.state}`);
      expect(order.indexOf('request.status:SUCCESS')).toBeLessThan(order.indexOf('request.rollout:COMPLETE'));
      expect(s.data('request.rollout').at(-1).rollout.replicas).toMatchObject({ desired: 2, ready: 2 });
    } finally {
      s.close();
    }
  });
});
