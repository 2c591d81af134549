import type { AppConfig } from '../config/app-config.js';
import type { StoredEvent } from './event.js';
import { EventHub } from './event-hub.js';
import type { EventNotificationsRepository } from './event-notifications.repository.js';
import type { EventsRepository, TailRead } from './events.repository.js';

const ev = (id: number, requestId: string | null = null): StoredEvent => ({
  id,
  type: 'request.status',
  namespace: 'ns',
  name: 'web',
  requestId,
  payload: {},
  createdAt: new Date(),
});

/** A stand-in for the events table: visible rows, and transactions reported as still open. */
class FakeLog {
  visible: StoredEvent[] = [];
  open = new Set<string>();
  repo = {
    head: async () => ({ lastId: 0, openTransactions: [] }),
    tail: async (after: number, limit: number): Promise<TailRead> => ({
      events: this.visible.filter((e) => e.id > after).slice(0, limit),
      openTransactions: [...this.open],
    }),
    countOpen: async (txs: string[]) => txs.filter((t) => this.open.has(t)).length,
    purgeOlderThan: async () => 0,
  } as unknown as EventsRepository;
}

const notifications = {
  listen: () => undefined,
  close: async () => undefined,
} as unknown as EventNotificationsRepository;
const config = { EVENT_GAP_TIMEOUT_MS: 60_000, EVENT_POLL_MS: 60_000, EVENT_RETENTION_HOURS: 24 } as AppConfig;

/** Runs the hub's follower until it has nothing more to do. */
async function settle(hub: EventHub) {
  hub.wake();
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe('EventHub', () => {
  let log: FakeLog;
  let hub: EventHub;
  let seen: number[];

  beforeEach(async () => {
    log = new FakeLog();
    hub = new EventHub(config, log.repo, notifications);
    await hub.ready();
    seen = [];
    hub.subscribe({ after: 0, deliver: (e) => seen.push(e.id) });
  });
  afterEach(() => hub.onModuleDestroy());

  it('delivers in id order', async () => {
    log.visible = [ev(1), ev(2), ev(3)];
    await settle(hub);
    expect(seen).toEqual([1, 2, 3]);
    expect(hub.horizon).toBe(3);
  });

  it('holds back an id committed before a lower one that is still in flight, then delivers both in order', async () => {
    // Transaction 700 drew id 1 and is still open; id 2 committed first.
    log.open.add('700');
    log.visible = [ev(2)];
    await settle(hub);
    expect(seen).toEqual([]);
    expect(hub.horizon).toBe(0);

    log.open.delete('700');
    log.visible = [ev(1), ev(2)];
    await settle(hub);
    expect(seen).toEqual([1, 2]);
  });

  it('passes over an id whose transaction rolled back, once that transaction has ended', async () => {
    log.open.add('700');
    log.visible = [ev(2), ev(3)];
    await settle(hub);
    expect(seen).toEqual([]);

    log.open.delete('700'); // rolled back: id 1 never appears
    await settle(hub);
    expect(seen).toEqual([2, 3]);
    expect(hub.horizon).toBe(3);
  });

  it('passes over a gap at once when no transaction was open when it was seen', async () => {
    log.visible = [ev(1), ev(4)];
    await settle(hub);
    expect(seen).toEqual([1, 4]);
  });

  it('wakes a long-poll waiter on an event of its request only', async () => {
    const mine = hub.nextEventOf('r-1');
    let woke = false;
    void mine.event.then(() => (woke = true));
    log.visible = [ev(1, 'r-2')];
    await settle(hub);
    expect(woke).toBe(false);
    log.visible = [ev(1, 'r-2'), ev(2, 'r-1')];
    await settle(hub);
    expect(woke).toBe(true);
  });

  it('gives a subscriber nothing at or below the point it subscribed after', async () => {
    log.visible = [ev(1), ev(2), ev(3)];
    const late: number[] = [];
    hub.subscribe({ after: 2, deliver: (e) => late.push(e.id) });
    await settle(hub);
    expect(late).toEqual([3]);
  });
});
