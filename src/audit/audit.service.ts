import { Injectable, Logger } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedRequest } from '../auth/access.decorator.js';
import { routeTemplate } from '../common/logging-http.js';
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { CallAuditor, routeFactsOf } from '../http/call-context.js';
import { AuditEntry, AuditRepository, NewAuditEntry } from './audit.repository.js';

/** Refusals that are audited on every route under /v1, GET included. */
const ALWAYS_AUDITED = new Set([401, 403, 429]);
const DETAILS = Symbol('k8sdm.auditDetails');
const MAX_TEXT = 512;

const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v.slice(0, MAX_TEXT) : null);
const field = (o: unknown, key: string): string | null =>
  o && typeof o === 'object' && !Array.isArray(o) ? text((o as Record<string, unknown>)[key]) : null;
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/**
 * The audit trail: every non-GET call under /v1, every call to an admin-only route and every
 * 401, 403 and 429 under /v1, answered or refused. Entries are written before the answer is sent.
 */
@Injectable()
export class AuditService implements CallAuditor {
  private readonly logger = new Logger(AuditService.name);

  constructor(private readonly repo: AuditRepository) {}

  /** Facts a handler adds to its own entry (the purge: its cut-off and how many entries went). */
  static addDetails(req: FastifyRequest, details: Record<string, unknown>) {
    (req as FastifyRequest & { [DETAILS]?: Record<string, unknown> })[DETAILS] = details;
  }

  async recordCall(
    req: FastifyRequest,
    statusCode: number,
    outcome: { body?: unknown; errorCode?: string; action?: string } = {},
  ): Promise<void> {
    const entry = this.entryFor(req, statusCode, outcome);
    if (!entry) return;
    try {
      await this.repo.append(entry);
    } catch (e) {
      // The call has had its effect; refusing to answer now would only hide that. Loud, not silent.
      this.logger.error(`audit entry not written: ${(e as Error).message}; entry: ${JSON.stringify(entry)}`);
    }
  }

  /** The entry for a call, or undefined when the call is not one that is audited. */
  entryFor(
    req: FastifyRequest,
    statusCode: number,
    outcome: { body?: unknown; errorCode?: string; action?: string } = {},
  ): NewAuditEntry | undefined {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1' && !path.startsWith('/v1/')) return undefined;
    const facts = routeFactsOf(req);
    const method = req.method.toUpperCase();
    const read = method === 'GET' || method === 'HEAD';
    if (read && !facts?.adminOnly && !ALWAYS_AUDITED.has(statusCode)) return undefined;
    // Fastify matches the route before reading the body; a call refused before its body was
    // accepted (400, 413, 415, 405) counts as unrouted, as it did when routing came after.
    const template = routeTemplate(req.raw);
    const params: unknown = template === undefined ? undefined : req.params;
    const principal = (req as AuthenticatedRequest).principal;
    return {
      actorKeyId: principal?.keyId ?? null,
      actorName: principal?.keyName ?? null,
      method: method.slice(0, 10),
      // Unmatched calls (404, or refused by the body parser before routing) keep their raw path.
      route: typeof template === 'string' ? template : path.slice(0, MAX_TEXT),
      action: outcome.action ?? facts?.action ?? 'unmatched',
      namespace: field(params, 'namespace') ?? field(outcome.body, 'namespace') ?? field(req.body, 'namespace'),
      name: field(params, 'name') ?? field(outcome.body, 'name') ?? field(req.body, 'name'),
      statusCode,
      errorCode: outcome.errorCode ?? null,
      requestId: field(outcome.body, 'requestId') ?? field(params, 'requestId'),
      sourceIp: req.ip ?? null,
      details: (req as FastifyRequest & { [DETAILS]?: Record<string, unknown> })[DETAILS] ?? null,
    };
  }

  async list(q: {
    actor?: string;
    namespace?: string;
    action?: string;
    since?: Date;
    limit?: number;
    cursor?: string;
  }): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    const limit = q.limit ?? 50;
    const beforeId = decodeCursor(q.cursor, isId);
    const rows = await this.repo.list({ ...q, beforeId, limit: limit + 1 });
    const items = rows.slice(0, limit);
    return { items, nextCursor: rows.length > limit ? encodeCursor(items[items.length - 1].id) : null };
  }

  /** Deletes entries older than `days` days; the call itself is audited like every admin action. */
  purge(days: number): Promise<{ deleted: number; before: Date }> {
    return this.repo.purgeOlderThan(days);
  }
}
