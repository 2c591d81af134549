import type { TestingModule } from '@nestjs/testing';
import pg from 'pg';
import { AppConfig } from '../../src/config/app-config.js';
import { NamespaceScope } from '../../src/domain/principal.js';
import type { StoredEvent } from '../../src/events/event.js';
import { EventHub } from '../../src/events/event-hub.js';
import { EventNotificationsRepository } from '../../src/events/event-notifications.repository.js';
import { EventsRepository } from '../../src/events/events.repository.js';
import { eventually, uniqueId } from '../support/harness.js';
import { repositoryModule } from '../support/repository-module.js';

// The event log on the real PostgreSQL: triggers, and the hub's in-order delivery when
// transactions commit out of id order.
describe('EventsRepository and EventHub (PostgreSQL)', () => {
  let module: TestingModule;
  let hub: EventHub;
  let repo: EventsRepository;
  const clients: pg.Client[] = [];
  const ns = `repo-ev-${uniqueId()}`;
  const seen: StoredEvent[] = [];

  beforeAll(async () => {
    const config = { EVENT_GAP_TIMEOUT_MS: 60_000, EVENT_POLL_MS: 100, EVENT_RETENTION_HOURS: 24 } as AppConfig;
    ({ module } = await repositoryModule(
      [],
      [
        EventsRepository,
        EventHub,
        { provide: AppConfig, useValue: config },
        // Woken by its poll alone here: the LISTEN session is the API's, tested with it.
        { provide: EventNotificationsRepository, useValue: { listen: () => undefined, close: async () => undefined } },
      ],
    ));
    hub = module.get(EventHub);
    await hub.ready();
    repo = module.get(EventsRepository);
    hub.subscribe({ after: hub.horizon, deliver: (e) => (e.namespace === ns ? seen.push(e) : undefined) });
  });
  afterAll(async () => {
    for (const c of clients) await c.end();
    await module?.close();
  });

  async function session() {
    const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await c.connect();
    clients.push(c);
    return c;
  }
  /** A request row; its INSERT trigger writes its request.status event, whose id is returned. */
  async function accept(c: pg.Client, name: string): Promise<number> {
    const requestId = `ev-${uniqueId()}`;
    await c.query(
      `INSERT INTO deployment_requests (request_id, operation, namespace, name, spec, spec_mode, body_hash, status, deadline_at)
       VALUES ($1, 'CREATE', $2, $3, '{}', 'REPLACE', repeat('0', 64), 'CREATED', now() + interval '1 hour')`,
      [requestId, ns, name],
    );
    const { rows } = await c.query(`SELECT max(id) AS id FROM events WHERE request_id = $1`, [requestId]);
    return Number(rows[0].id);
  }

  it('delivers an id that commits after a higher one, and in id order', async () => {
    const slow = await session();
    const fast = await session();
    await slow.query('BEGIN');
    const lower = await accept(slow, 'slow');
    const higher = await accept(fast, 'fast'); // autocommit: visible first
    expect(higher).toBeGreaterThan(lower);
    // The hub has seen the higher id and holds it back for the open transaction.
    await eventually(async () => hub.waitingFor !== undefined && hub.waitingFor <= lower);
    expect(seen.map((e) => e.id)).not.toContain(higher);
    await slow.query('COMMIT');
    await eventually(async () => seen.some((e) => e.id === higher));
    const ids = seen.map((e) => e.id);
    expect(ids.filter((i) => i === lower || i === higher)).toEqual([lower, higher]);
  });

  it('passes over the id of a transaction that rolled back', async () => {
    const doomed = await session();
    await doomed.query('BEGIN');
    const lost = await accept(doomed, 'doomed');
    const kept = await accept(await session(), 'kept');
    await eventually(async () => hub.waitingFor !== undefined && hub.waitingFor <= lost);
    await doomed.query('ROLLBACK');
    await eventually(async () => seen.some((e) => e.id === kept));
    expect(seen.map((e) => e.id)).not.toContain(lost);
    expect(hub.horizon).toBeGreaterThanOrEqual(kept);
  });

  it('writes a status event only when the status changes, and a rollout event only when the receipt does', async () => {
    const c = await session();
    const first = await accept(c, 'changes');
    const { rows } = await c.query(`SELECT request_id FROM events WHERE id = $1`, [first]);
    const requestId = rows[0].request_id as string;
    await c.query(`UPDATE deployment_requests SET status = 'CREATED', attempts = 1 WHERE request_id = $1`, [requestId]);
    await c.query(`UPDATE deployment_requests SET status = 'QUEUED' WHERE request_id = $1`, [requestId]);
    await c.query(`UPDATE deployment_requests SET rollout = '{"state":"WAITING"}' WHERE request_id = $1`, [requestId]);
    await c.query(`UPDATE deployment_requests SET rollout = '{"state":"WAITING"}' WHERE request_id = $1`, [requestId]);
    const events = await repo.readRange(
      first - 1,
      Number.MAX_SAFE_INTEGER,
      { scope: NamespaceScope.ALL, requestId },
      50,
    );
    expect(events.map((e) => [e.type, e.payload.status ?? (e.payload.rollout as { state: string }).state])).toEqual([
      ['request.status', 'CREATED'],
      ['request.status', 'QUEUED'],
      ['request.rollout', 'WAITING'],
    ]);
  });

  it('writes deployment.changed, .drift and .deleted from the mirror only when what they report changes', async () => {
    const c = await session();
    const name = `mirror-${uniqueId()}`;
    const update = (set: string) =>
      c.query(`UPDATE deployments SET ${set} WHERE namespace = $1 AND name = $2`, [ns, name]);
    await c.query(
      `INSERT INTO deployments (namespace, name, uid, desired_replicas, generation, resource_version, rollout)
       VALUES ($1, $2, gen_random_uuid(), 2, 1, '10', 'PROGRESSING')`,
      [ns, name],
    );
    await update(`synced_at = now(), resource_version = '11'`); // bookkeeping only
    await update(`ready_replicas = 2, available_replicas = 2, updated_replicas = 2, rollout = 'AVAILABLE'`);
    const report = (checkedAt: string) =>
      JSON.stringify({ checkedAt, fields: [{ field: 'replicas', managers: [] }], managedElsewhere: [] });
    await update(`drifted = true, drift = '${report('2026-12-01T10:00:00Z')}'`);
    await update(`drift = '${report('2026-12-01T10:05:00Z')}'`); // a later pass, same judgement
    await update(`deleted_at = now()`);
    await update(`synced_at = now()`); // still deleted
    const events = await repo.readRange(
      0,
      Number.MAX_SAFE_INTEGER,
      { scope: NamespaceScope.ALL, namespace: ns, name },
      50,
    );
    expect(events.map((e) => e.type)).toEqual([
      'deployment.changed',
      'deployment.changed',
      'deployment.drift',
      'deployment.deleted',
    ]);
    expect(events[1].payload).toMatchObject({
      rollout: 'AVAILABLE',
      replicas: { desired: 2, updated: 2, ready: 2, available: 2 },
      generation: 1,
    });
    expect(events[2].payload).toMatchObject({ drifted: true, drift: { fields: [{ field: 'replicas' }] } });
  });

  it("reads a catch-up range within a scope, escaping LIKE's wildcards", async () => {
    const c = await session();
    const id = await accept(c, 'scoped');
    const read = (patterns: string[]) =>
      repo.readRange(id - 1, id, { scope: new NamespaceScope(patterns) }, 10).then((r) => r.map((e) => e.id));
    expect(await read([ns])).toEqual([id]);
    expect(await read([`${ns.slice(0, 5)}*`])).toEqual([id]);
    expect(await read([`${ns.slice(0, 4)}_*`])).toEqual([]); // "_" is not a wildcard
    expect(await read(['other'])).toEqual([]);
  });
});
