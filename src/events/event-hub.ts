import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import type { StoredEvent } from './event.js';
import { EventNotificationsRepository } from './event-notifications.repository.js';
import { EventsRepository } from './events.repository.js';

/** A live receiver of events: called, in id order, with every event above `after`. */
export interface EventSubscriber {
  after: number;
  deliver(e: StoredEvent): void;
}

/** Rows read per query while following the log. */
const PAGE = 500;
/** How soon a gap in the ids is looked at again while its transaction may still commit. */
const GAP_RECHECK_MS = 100;
/** How often retention is applied (every API process does it; the DELETE is idempotent). */
const PURGE_EVERY_MS = 10 * 60_000;

interface Gap {
  /** The first missing id (horizon + 1 when it was seen). */
  missingFrom: number;
  /** The first id seen above it. */
  seenId: number;
  /** Transactions open when the gap was seen: one of them may still commit the missing ids. */
  open: string[];
  since: number;
  settled: boolean;
}

/**
 * The API process's one follower of the event log, fanning each new event out to the streams
 * and long-polls of this process. A NOTIFY (or the EVENT_POLL_MS poll) wakes it; it reads the
 * rows after its horizon and delivers them strictly in id order.
 *
 * Ids come from a sequence at INSERT time, but transactions commit in any order: id 101 may be
 * visible while 100 is still in flight. The horizon therefore only moves over a contiguous run
 * of ids. A missing id is waited for until every transaction that was open when the gap was
 * seen has ended (pg_xact_status), then read again: what is still missing was rolled back.
 * (Each events row is written by an AFTER trigger, so its transaction already has an id when
 * the event's id is drawn.) A transaction open longer than EVENT_GAP_TIMEOUT_MS is passed over,
 * so one stuck transaction cannot stop every stream; its events stay in the table.
 */
@Injectable()
export class EventHub implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(EventHub.name);
  private readonly subscribers = new Set<EventSubscriber>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private horizonId = 0;
  private gap?: Gap;
  private running = false;
  private again = false;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private recheck?: NodeJS.Timeout;
  private started?: Promise<void>;

  constructor(
    private readonly config: AppConfig,
    private readonly repo: EventsRepository,
    private readonly notifications: EventNotificationsRepository,
  ) {}

  /** Every event up to here has been delivered (or was rolled back); later ones have not. */
  get horizon(): number {
    return this.horizonId;
  }

  /** The first missing id the hub is holding back for (a transaction that may still commit it), if any. */
  get waitingFor(): number | undefined {
    return this.gap && !this.gap.settled ? this.gap.missingFrom : undefined;
  }

  /** Boot does not wait: streams and long-polls wait for ready() themselves. */
  onApplicationBootstrap(): void {
    void this.ready().catch((e) => this.logger.warn(`cannot follow the event log yet: ${(e as Error).message}`));
  }

  /** Resolves once the hub follows the log (streams wait for it before reading); a failed start is tried again. */
  ready(): Promise<void> {
    this.started ??= this.start().catch((e: unknown) => {
      this.started = undefined;
      throw e;
    });
    return this.started;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.recheck);
    await this.notifications.close();
    for (const set of this.waiters.values()) for (const wake of set) wake();
    this.waiters.clear();
    this.subscribers.clear();
  }

  subscribe(s: EventSubscriber): () => void {
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  /**
   * Resolves at the next event of this request that the hub delivers (or when the hub stops).
   * Register before reading the record, so a change committed between the read and the wait
   * still wakes the waiter.
   */
  nextEventOf(requestId: string): { event: Promise<void>; cancel(): void } {
    let wake!: () => void;
    const event = new Promise<void>((resolve) => (wake = resolve));
    const set = this.waiters.get(requestId) ?? new Set();
    set.add(wake);
    this.waiters.set(requestId, set);
    const cancel = () => {
      set.delete(wake);
      if (!set.size && this.waiters.get(requestId) === set) this.waiters.delete(requestId);
    };
    void event.then(cancel);
    return { event, cancel };
  }

  /** Reads and delivers what is new now (also what a NOTIFY does). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      do {
        this.again = false;
        try {
          await this.follow();
        } catch (e) {
          if (!this.stopped) this.logger.warn(`reading the event log failed: ${(e as Error).message}`);
        }
      } while (this.again && !this.stopped);
      this.running = false;
    })();
  }

  /** Applies EVENT_RETENTION_HOURS now. */
  async purge(): Promise<number> {
    return this.repo.purgeOlderThan(this.config.EVENT_RETENTION_HOURS);
  }

  private async start(): Promise<void> {
    // Start at the newest event once the transactions open now have ended: an event they still
    // commit below it is older than any stream, which would otherwise never see it live.
    const head = await this.repo.head();
    const deadline = Date.now() + this.config.EVENT_GAP_TIMEOUT_MS;
    while (!this.stopped && (await this.repo.countOpen(head.openTransactions)) > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, GAP_RECHECK_MS));
    this.horizonId = head.lastId;
    // Closed while starting (a short-lived app): no session or timer may outlive it.
    if (this.stopped) return;
    this.notifications.listen(() => this.wake());
    const poll = setInterval(() => this.wake(), this.config.EVENT_POLL_MS);
    const purge = setInterval(() => this.purgeQuietly(), PURGE_EVERY_MS);
    poll.unref();
    purge.unref();
    this.timers.push(poll, purge);
    this.purgeQuietly();
  }

  private purgeQuietly(): void {
    void this.purge().catch((e) => {
      if (!this.stopped) this.logger.warn(`event retention failed: ${(e as Error).message}`);
    });
  }

  private async follow(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const read = await this.repo.tail(this.horizonId, PAGE);
      for (const e of read.events) {
        if (e.id !== this.horizonId + 1 && !(await this.passOver(e.id, read.openTransactions))) {
          // Read again: the missing ids were just found settled, or are still awaited.
          if (this.gap?.settled) break;
          return;
        }
        this.horizonId = e.id;
        this.dispatch(e);
      }
      if (this.gap?.settled && this.gap.missingFrom <= this.horizonId) this.gap = undefined;
      if (read.events.length < PAGE && !this.gap?.settled) return;
    }
  }

  /**
   * True when the ids between the horizon and `id` may be skipped: they were found settled at
   * an earlier look and are still missing, or their transactions have been open too long.
   */
  private async passOver(id: number, open: string[]): Promise<boolean> {
    const missingFrom = this.horizonId + 1;
    let gap = this.gap;
    if (!gap || gap.missingFrom !== missingFrom || id > gap.seenId) {
      gap = this.gap = { missingFrom, seenId: id, open, since: Date.now(), settled: false };
    } else if (gap.settled) {
      this.gap = undefined;
      return true;
    }
    if ((await this.repo.countOpen(gap.open)) === 0) {
      gap.settled = true;
    } else if (Date.now() - gap.since > this.config.EVENT_GAP_TIMEOUT_MS) {
      this.logger.warn(
        `event ids ${missingFrom}..${id - 1} still missing after EVENT_GAP_TIMEOUT_MS; streams pass over them`,
      );
      gap.settled = true;
    } else {
      clearTimeout(this.recheck);
      this.recheck = setTimeout(() => this.wake(), GAP_RECHECK_MS);
    }
    return false;
  }

  private dispatch(e: StoredEvent): void {
    for (const s of this.subscribers) {
      if (e.id <= s.after) continue;
      s.after = e.id;
      try {
        s.deliver(e);
      } catch (err) {
        this.logger.warn(`an event subscriber failed: ${(err as Error).message}`);
      }
    }
    if (e.requestId) for (const wake of this.waiters.get(e.requestId) ?? []) wake();
  }
}
