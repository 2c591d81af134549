import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { GroupCommit } from '../database/group-commit.js';

/** One row of audit_log as the service writes it. */
export interface NewAuditEntry {
  actorKeyId: string | null;
  actorName: string | null;
  method: string;
  route: string;
  action: string;
  namespace: string | null;
  name: string | null;
  statusCode: number;
  errorCode: string | null;
  requestId: string | null;
  sourceIp: string | null;
  details: Record<string, unknown> | null;
}

export interface AuditEntry extends NewAuditEntry {
  id: number;
  at: Date;
}

export interface AuditFilter {
  /** An API key's id or name. */
  actor?: string;
  namespace?: string;
  action?: string;
  since?: Date;
  /** Only entries with a smaller id (the cursor). */
  beforeId?: number;
  limit: number;
}

interface AuditRow {
  id: string;
  at: Date;
  actor_key_id: string | null;
  actor_name: string | null;
  method: string;
  route: string;
  action: string;
  namespace: string | null;
  name: string | null;
  status_code: number;
  error_code: string | null;
  request_id: string | null;
  source_ip: string | null;
  details: Record<string, unknown> | null;
}

/** audit_log: append and read; the database refuses UPDATE and DELETE (see the migration). */
@Injectable()
export class AuditRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Concurrent calls' entries share one multi-row INSERT (see GroupCommit). */
  private readonly appends = new GroupCommit<NewAuditEntry, void>((batch) => this.appendMany(batch));

  /** Resolves once the entry has committed. */
  append(e: NewAuditEntry): Promise<void> {
    return this.appends.submit(e);
  }

  /** One INSERT of many entries, in their order; all or nothing. */
  async appendMany(entries: NewAuditEntry[]): Promise<void[]> {
    const params: unknown[] = [];
    const values = entries.map((e) => {
      const p = params.length;
      params.push(
        e.actorKeyId,
        e.actorName,
        e.method,
        e.route,
        e.action,
        e.namespace,
        e.name,
        e.statusCode,
        e.errorCode,
        e.requestId,
        e.sourceIp,
        e.details === null ? null : JSON.stringify(e.details),
      );
      return `(${Array.from({ length: 12 }, (_, i) => `$${p + i + 1}`).join(', ')})`;
    });
    await this.ds.query(
      `INSERT INTO audit_log (actor_key_id, actor_name, method, route, action, namespace, name, status_code,
         error_code, request_id, source_ip, details)
       VALUES ${values.join(', ')}`,
      params,
    );
    return entries.map(() => undefined);
  }

  /** Newest first. */
  async list(f: AuditFilter): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (f.actor !== undefined) add((p) => `(actor_key_id = ${p} OR actor_name = ${p})`, f.actor);
    if (f.namespace !== undefined) add((p) => `namespace = ${p}`, f.namespace);
    if (f.action !== undefined) add((p) => `action = ${p}`, f.action);
    if (f.since !== undefined) add((p) => `at >= ${p}`, f.since);
    if (f.beforeId !== undefined) add((p) => `id < ${p}`, f.beforeId);
    params.push(f.limit);
    const rows: AuditRow[] = await this.ds.query(
      `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toEntry);
  }

  /** Deletes entries older than `days` days (at least 1) through audit_log_purge: how many, and the cut-off. */
  async purgeOlderThan(days: number): Promise<{ deleted: number; before: Date }> {
    const [row]: { deleted: string; before: Date }[] = await this.ds.query(
      `SELECT audit_log_purge($1) AS deleted, now() - make_interval(days => $1) AS before`,
      [days],
    );
    return { deleted: Number(row.deleted), before: row.before };
  }
}

function toEntry(r: AuditRow): AuditEntry {
  return {
    id: Number(r.id),
    at: r.at,
    actorKeyId: r.actor_key_id,
    actorName: r.actor_name,
    method: r.method,
    route: r.route,
    action: r.action,
    namespace: r.namespace,
    name: r.name,
    statusCode: r.status_code,
    errorCode: r.error_code,
    requestId: r.request_id,
    sourceIp: r.source_ip,
    details: r.details,
  };
}
