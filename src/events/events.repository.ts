import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { escapeLike } from '../database/namespace-scope-sql.js';
import type { EventFilter, EventType, StoredEvent } from './event.js';

interface EventRow {
  id: string;
  type: EventType;
  namespace: string;
  name: string;
  request_id: string | null;
  payload: Record<string, unknown>;
  created_at: Date;
}

const toEvent = (r: EventRow): StoredEvent => ({
  id: Number(r.id),
  type: r.type,
  namespace: r.namespace,
  name: r.name,
  requestId: r.request_id,
  payload: r.payload,
  createdAt: r.created_at,
});

/** The newest events as one statement saw them, and the transactions still open at that moment. */
export interface TailRead {
  events: StoredEvent[];
  /** Top-level transaction ids in progress when the rows were read (pg_snapshot_xip of the statement's snapshot). */
  openTransactions: string[];
}

/** The event log (the events table, written by triggers: see migrations/1764400900000-events.ts). */
@Injectable()
export class EventsRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /**
   * Up to `limit` events after `afterId`, in id order, with the statement's open transactions.
   * One statement, one snapshot: an id missing below a returned id belongs to a transaction that
   * either rolled back or is among `openTransactions`.
   */
  async tail(afterId: number, limit: number): Promise<TailRead> {
    const rows: (EventRow & { open: string[] | null })[] = await this.ds.query(
      `WITH snap AS (SELECT array(SELECT x::text FROM pg_snapshot_xip(pg_current_snapshot()) x) AS open)
       SELECT e.*, snap.open FROM snap LEFT JOIN LATERAL (
         SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2) e ON true`,
      [afterId, limit],
    );
    return {
      events: rows.filter((r) => r.id !== null).map(toEvent),
      openTransactions: rows[0]?.open ?? [],
    };
  }

  /** How many of these transactions are still in progress. */
  async countOpen(transactions: string[]): Promise<number> {
    if (!transactions.length) return 0;
    const [row]: { open: number }[] = await this.ds.query(
      `SELECT count(*)::int AS open FROM unnest($1::text[]) x WHERE pg_xact_status(x::xid8) = 'in progress'`,
      [transactions],
    );
    return row.open;
  }

  /** The highest id written so far (0 for none), and the transactions open at that moment. */
  async head(): Promise<{ lastId: number; openTransactions: string[] }> {
    const [row]: { last: string | null; open: string[] }[] = await this.ds.query(
      `SELECT (SELECT max(id) FROM events) AS last,
              array(SELECT x::text FROM pg_snapshot_xip(pg_current_snapshot()) x) AS open`,
    );
    return { lastId: Number(row.last ?? 0), openTransactions: row.open };
  }

  /**
   * Events with afterId < id <= throughId that match the filter, in id order (a client catching
   * up). The same rules as matchesFilter, in SQL.
   */
  async readRange(afterId: number, throughId: number, f: EventFilter, limit: number): Promise<StoredEvent[]> {
    const where = ['id > $1', 'id <= $2'];
    const params: unknown[] = [afterId, throughId];
    const add = (sql: (n: number) => string, value: unknown) => {
      params.push(value);
      where.push(sql(params.length));
    };
    const scope = f.scope.filter;
    if (scope) {
      params.push(
        scope.names,
        scope.prefixes.map((p) => `${escapeLike(p)}%`),
      );
      where.push(`(namespace = ANY($${params.length - 1}::text[]) OR namespace LIKE ANY($${params.length}::text[]))`);
    }
    if (f.namespace !== undefined) add((n) => `namespace = $${n}`, f.namespace);
    if (f.name !== undefined) add((n) => `name = $${n}`, f.name);
    if (f.requestId !== undefined) add((n) => `request_id = $${n}`, f.requestId);
    if (f.types) add((n) => `type = ANY($${n}::text[])`, f.types);
    params.push(limit);
    const rows: EventRow[] = await this.ds.query(
      `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`,
      params,
    );
    return rows.map(toEvent);
  }

  /** The highest id retention has removed (0 for none): a resume point below it has lost events. */
  async purgedThrough(): Promise<number> {
    const [row]: { purged_through: string }[] = await this.ds.query(`SELECT purged_through FROM event_purges`);
    return Number(row?.purged_through ?? 0);
  }

  /** Removes events older than the retention and records the highest id removed. */
  async purgeOlderThan(hours: number): Promise<number> {
    const [row]: { removed: number }[] = await this.ds.query(
      `WITH gone AS (DELETE FROM events WHERE created_at < now() - make_interval(hours => $1) RETURNING id),
            mark AS (UPDATE event_purges SET purged_through = greatest(purged_through, (SELECT max(id) FROM gone))
                     WHERE EXISTS (SELECT 1 FROM gone))
       SELECT count(*)::int AS removed FROM gone`,
      [hours],
    );
    return row.removed;
  }
}
