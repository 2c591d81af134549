import type { TestingModule } from '@nestjs/testing';
import type pg from 'pg';
import { AuditRepository, type NewAuditEntry } from '../../src/audit/audit.repository.js';
import { RateLimitRepository } from '../../src/http/rate-limit.repository.js';
import { db, uniqueId } from '../support/harness.js';
import { repositoryModule } from '../support/repository-module.js';

// The audit entries and rate-limit counts of concurrent calls share one statement (GroupCommit);
// each call still gets its own outcome.
describe('group-committed audit entries and rate-limit counts (PostgreSQL)', () => {
  let module: TestingModule;
  let audit: AuditRepository;
  let limits: RateLimitRepository;
  let pool: pg.Pool;

  beforeAll(async () => {
    ({ module } = await repositoryModule([], [AuditRepository, RateLimitRepository]));
    audit = module.get(AuditRepository);
    limits = module.get(RateLimitRepository);
    pool = db();
  });

  afterAll(async () => {
    await pool?.end();
    await module?.close();
  });

  const entry = (namespace: string, statusCode = 202): NewAuditEntry => ({
    actorKeyId: null,
    actorName: 'test',
    method: 'POST',
    route: '/v1/deployments',
    action: 'deployments.create',
    namespace,
    name: `d-${uniqueId()}`,
    statusCode,
    errorCode: null,
    requestId: null,
    sourceIp: '127.0.0.1',
    details: null,
  });

  const auditRows = async (namespace: string) =>
    (
      await pool.query<{ name: string; tx: string }>(
        `SELECT name, xmin::text AS tx FROM audit_log WHERE namespace = $1 ORDER BY id`,
        [namespace],
      )
    ).rows;

  it('writes concurrent audit entries in one INSERT, in submission order, committed when each caller hears back', async () => {
    const ns = `gc-audit-${uniqueId()}`;
    const entries = [entry(ns), entry(ns), entry(ns), entry(ns)];
    await Promise.all(entries.map((e) => audit.append(e)));
    const rows = await auditRows(ns);
    expect(rows.map((r) => r.name)).toEqual(entries.map((e) => e.name));
    expect(new Set(rows.map((r) => r.tx)).size).toBe(1);
  });

  it('fails only the audit entry the table refuses; the others of its batch are written', async () => {
    const ns = `gc-audit-${uniqueId()}`;
    // status_code is a smallint: 70000 is out of range, so the batch's INSERT fails as a whole.
    const entries = [entry(ns), entry(ns, 70_000), entry(ns)];
    const outcomes = await Promise.allSettled(entries.map((e) => audit.append(e)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await auditRows(ns)).map((r) => r.name)).toEqual([entries[0].name, entries[2].name]);
  });

  it('counts concurrent calls of one key in one upsert: each call gets its own count, in order, and the limit holds', async () => {
    const key = `test:key:${uniqueId()}`;
    const other = `test:key:${uniqueId()}`;
    const calls = [key, key, other, key, key].map((k) => limits.increment(k, 60_000, 3));
    const results = await Promise.all(calls);
    expect(results.map((r) => r.totalHits)).toEqual([1, 2, 1, 3, 4]);
    expect(results.map((r) => r.isBlocked)).toEqual([false, false, false, false, true]);
    expect(results[4].timeToBlockExpire).toBeGreaterThanOrEqual(1);
    expect(results[4].timeToBlockExpire).toBeLessThanOrEqual(60);
    // The stored count is the sum, and the next call goes on from it.
    expect((await limits.increment(key, 60_000, 3)).totalHits).toBe(5);
    const { rows } = await pool.query<{ hits: string }>(`SELECT hits FROM rate_limit_windows WHERE key = $1`, [key]);
    expect(rows[0].hits).toBe('5');
  });

  it('starts a new window, counted from the batch, once the old one has ended', async () => {
    const key = `test:key:${uniqueId()}`;
    await pool.query(
      `INSERT INTO rate_limit_windows (key, hits, expires_at) VALUES ($1, 99, clock_timestamp() - interval '1 second')`,
      [key],
    );
    const results = await Promise.all([1, 2, 3].map(() => limits.increment(key, 60_000, 10)));
    expect(results.map((r) => r.totalHits)).toEqual([1, 2, 3]);
  });
});
