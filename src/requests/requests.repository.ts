import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository, type ValueTransformer } from 'typeorm';
import { DeploymentRequestEntity, Operation, RequestStatus, SpecMode } from './deployment-request.entity.js';
import type { DeploymentSpecPatch } from '../domain/deployment-spec.js';
import { sanitizeReason } from '../domain/reason-text.js';
import { GroupCommit } from '../database/group-commit.js';
import {
  AdvisoryLockLost,
  advisoryUnlockSql,
  type LockAttempt,
  type LockSession,
  tryAdvisoryLockSql,
  tryWithAdvisoryLock,
  tryWithAdvisoryLockInRead,
} from '../database/advisory-lock.js';
import { namespaceScopeWhere } from '../database/namespace-scope-sql.js';
import type { NamespaceScope } from '../domain/principal.js';
import type { RolloutReceipt } from '../domain/rollout-receipt.js';
import { ObservedDeployment, ReceiptRequest, waitingReceipt } from './rollout-receipts.js';

export interface NewRequest {
  requestId: string;
  operation: Operation;
  namespace: string;
  name: string;
  spec: DeploymentSpecPatch | null;
  specMode: SpecMode;
  bodyHash: string;
  deadlineMs: number;
  /** The API call's X-Request-Id, for log correlation. */
  correlationId?: string | null;
  /** Who sent it: an API key (id and name), or the reconciler (keyId null). */
  requestedBy: { keyId: string | null; name: string };
  /** The client's Idempotency-Key; unique per requestedBy.keyId. */
  idempotencyKey: string | null;
  /** A rollback: the revision it restores and the request that made it. */
  rollbackOf?: { revision: number; requestId: string } | null;
}

export interface SuccessfulRequestRow {
  namespace: string;
  name: string;
  operation: Operation;
  specMode: SpecMode;
  spec: DeploymentSpecPatch | null;
  requestId: string;
}

export interface RequestFilter {
  namespace?: string;
  name?: string;
  status?: RequestStatus;
  deadLettered?: boolean;
  beforeSeq?: number;
  limit: number;
  /** Only requests in these namespaces (an API key's scope); undefined: all. */
  scope?: NamespaceScope;
}

const OPEN = `status NOT IN ('SUCCESS', 'FAILURE')`;

/** At most this many open receipts are moved per call; the rest wait for the next event or pass. */
const OPEN_RECEIPTS_LIMIT = 1000;

interface OpenReceiptRow {
  request_id: string;
  namespace: string;
  name: string;
  seq: string;
  operation: Operation;
  result_generation: string | null;
  result_resource_version: string | null;
  rollout: RolloutReceipt;
  mirrored: boolean;
  deleted: boolean;
  generation: string;
  observed_generation: string;
  resource_version: string;
  mirror_rollout: ObservedDeployment['rollout'];
  desired_replicas: number;
  updated_replicas: number;
  ready_replicas: number;
  available_replicas: number;
  last_writer_seq: string | null;
  progressing: { reason?: string; message?: string } | null;
}

const FAIL_SQL = `UPDATE deployment_requests
  SET status = 'FAILURE', error_code = $2, error_message = $3, dead_lettered = $4, retry_at = NULL,
      completed_at = now(), updated_at = now()
  WHERE request_id = $1 AND ${OPEN}`;

/**
 * What claiming a deployment's next request found, and whether the mirror has a row for the
 * deployment (read after everything this session wrote before had committed).
 */
export type Claim = (
  | { kind: 'claimed'; request: DeploymentRequestEntity }
  /** The oldest open request waits for its retry time; nothing newer may overtake it. */
  | { kind: 'waiting'; requestId: string; waitMs: number }
  | { kind: 'none' }
) & { mirrored: boolean };

/** Where a request stands, as the worker reads it before taking the deployment's lock. */
export interface RequestState {
  namespace: string;
  name: string;
  status: RequestStatus;
  deadLettered: boolean;
  errorCode: string | null;
  errorMessage: string | null;
}

/**
 * The claim in one statement: the deployment's oldest open request (head), marked PROCESSING
 * unless it waits for its retry time (measured by the database's clock, which also set
 * retry_at). The row comes back only when the claim took it; when it took none, the drain is
 * over and the statement gives the deployment's lock back ($3 its key, `unlock` the expression).
 * The unlock reads the claimed row, so it runs only once the UPDATE is known to have changed nothing.
 */
const claimSql = (unlock: string) => `WITH head AS (
    SELECT request_id, GREATEST(0, extract(epoch FROM retry_at - now()) * 1000)::float8 AS wait_ms
    FROM deployment_requests
    WHERE namespace = $1 AND name = $2 AND ${OPEN} ORDER BY seq LIMIT 1
  ), claimed AS (
    UPDATE deployment_requests r
    SET status = 'PROCESSING', attempts = r.attempts + 1, started_at = now(), updated_at = now(), retry_at = NULL
    FROM head
    WHERE r.request_id = head.request_id AND coalesce(head.wait_ms, 0) = 0 AND r.${OPEN}
    RETURNING r.*
  )
  SELECT c.*, h.request_id AS head_id, h.wait_ms AS head_wait_ms,
         EXISTS (SELECT 1 FROM deployments d WHERE d.namespace = $1 AND d.name = $2) AS head_mirrored,
         CASE WHEN c.request_id IS NULL THEN ${unlock} END AS released
  FROM (SELECT 1) one LEFT JOIN head h ON true LEFT JOIN claimed c ON true`;

/** The claim's one row: the claimed request's columns (null when none), the head, and whether the lock was given back. */
type ClaimRow = Record<string, unknown> & {
  head_id: string | null;
  head_wait_ms: number | null;
  head_mirrored: boolean;
  released: boolean | null;
};

/** The session holding a deployment's lock is gone: the worker's name for a lost advisory lock. */
export { AdvisoryLockLost as TargetLockLost };

/** A deployment's lock name: one lock per target, whoever takes it. */
const targetLockKey = (namespace: string, name: string) => `${namespace}/${name}`;
/** The same name, from a deployment_requests row in SQL. */
const TARGET_LOCK_KEY_SQL = `namespace || '/' || name`;

/**
 * The worker's first read of a message: where the request stands and, while it is open, its
 * deployment's lock, tried (never waited for) in the same statement. CASE evaluates the lock
 * only for an open request, so a finished one's message takes no lock.
 */
const STATE_AND_LOCK_SQL = `SELECT namespace, name, status, dead_lettered, error_code, error_message,
    CASE WHEN ${OPEN} THEN ${tryAdvisoryLockSql(TARGET_LOCK_KEY_SQL)} ELSE false END AS locked
  FROM deployment_requests WHERE request_id = $1`;

interface StateRow {
  namespace: string;
  name: string;
  status: RequestStatus;
  dead_lettered: boolean;
  error_code: string | null;
  error_message: string | null;
}

const toState = (r: StateRow): RequestState => ({
  namespace: r.namespace,
  name: r.name,
  status: r.status,
  deadLettered: r.dead_lettered,
  errorCode: r.error_code,
  errorMessage: r.error_message,
});

/** The one QUEUED marking: CREATED → QUEUED; a worker may already have moved the request on. */
const MARK_QUEUED_SQL = `UPDATE deployment_requests SET status = 'QUEUED', queued_at = now(), updated_at = now()
  WHERE request_id = ANY($1) AND status = 'CREATED'`;

/** A CREATED request the relay may publish. */
export interface CreatedRequest {
  requestId: string;
  generation: number;
  correlationId?: string | null;
}

/**
 * One deployment's lock, held on its own session. Every statement runs on that session, so
 * each one that succeeds proves the lock is still ours, until a claim that finds none gives it back.
 */
export class TargetLock {
  private readonly query: LockSession['query'];
  private readonly claimSql: string;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly session: LockSession,
    private readonly hydrate: (row: unknown) => DeploymentRequestEntity,
  ) {
    this.query = session.query;
    this.claimSql = claimSql(advisoryUnlockSql(session.key, '$3'));
  }

  /** Throws TargetLockLost unless the lock's session is still alive (and so still holds the lock). */
  async assertHeld(): Promise<void> {
    await this.query('SELECT 1', []);
  }

  /**
   * Takes the oldest open request for an attempt (PROCESSING, attempts + 1), unless it must wait
   * for its retry time. A claim that takes none gives the lock back in the same statement: the
   * drain ends there, and nothing more may run under this lock.
   */
  async claimOldestOpen(): Promise<Claim> {
    const [row] = (await this.query(this.claimSql, [this.namespace, this.name, this.session.key])) as ClaimRow[];
    if (row.released !== null) this.session.released();
    const mirrored = row.head_mirrored;
    if (row.request_id !== null) return { kind: 'claimed', request: this.hydrate(row), mirrored };
    const waitMs = row.head_wait_ms ?? 0;
    if (row.head_id !== null && waitMs > 0) return { kind: 'waiting', requestId: row.head_id, waitMs, mirrored };
    // No open request, or another process finished the head between the two halves of the claim.
    return { kind: 'none', mirrored };
  }

  /** SUCCESS, with the rollout receipt WAITING for the generation the write produced (or deleted). */
  async succeed(requestId: string, result: { generation: number | null; resourceVersion: string | null }) {
    await this.query(
      `UPDATE deployment_requests
       SET status = 'SUCCESS', error_code = NULL, error_message = NULL, result_generation = $2,
           result_resource_version = $3, retry_at = NULL, completed_at = now(), updated_at = now(),
           rollout = $4::jsonb
       WHERE request_id = $1 AND ${OPEN}`,
      [requestId, result.generation, result.resourceVersion, JSON.stringify(waitingReceipt(result.generation))],
    );
  }

  async fail(requestId: string, code: string, message: string, deadLettered: boolean) {
    await this.query(FAIL_SQL, [requestId, code, sanitizeReason(message), deadLettered]);
  }

  /** Records why an attempt failed, and when the request may be tried again. */
  async noteAttemptError(requestId: string, code: string, message: string, retryInMs: number) {
    await this.query(
      `UPDATE deployment_requests
       SET error_code = $2, error_message = $3, updated_at = now(),
           retry_at = now() + make_interval(secs => $4::double precision / 1000)
       WHERE request_id = $1 AND ${OPEN}`,
      [requestId, code, sanitizeReason(message), retryInMs],
    );
  }
}

/** All SQL about deployment requests. Status changes are guarded so a request never moves backwards. */
@Injectable()
export class RequestsRepository {
  constructor(
    @InjectRepository(DeploymentRequestEntity) private readonly repo: Repository<DeploymentRequestEntity>,
    @InjectDataSource() private readonly ds: DataSource,
  ) {}

  /** Concurrent submissions share one multi-row INSERT (see GroupCommit). */
  private readonly inserts = new GroupCommit<NewRequest, DeploymentRequestEntity | null>((batch) =>
    this.insertMany(batch),
  );

  /**
   * Inserts unless the same API key already sent this Idempotency-Key; null means it did
   * (a replay: read it with findByIdempotencyKey). Resolves once the row has committed.
   */
  insertIfAbsent(r: NewRequest): Promise<DeploymentRequestEntity | null> {
    return this.inserts.submit(r);
  }

  /**
   * One INSERT of many requests: the row of each, or null where its Idempotency-Key was already
   * taken (by an earlier row, or by an earlier one of this batch). All or nothing.
   */
  async insertMany(batch: NewRequest[]): Promise<(DeploymentRequestEntity | null)[]> {
    const params: unknown[] = [];
    const values = batch.map((r) => {
      const p = params.length;
      params.push(
        r.requestId,
        r.operation,
        r.namespace,
        r.name,
        r.spec === null ? null : JSON.stringify(r.spec),
        r.specMode,
        r.bodyHash,
        r.deadlineMs,
        r.requestedBy.keyId,
        r.requestedBy.name,
        r.idempotencyKey,
        r.correlationId ?? null,
        r.rollbackOf?.revision ?? null,
        r.rollbackOf?.requestId ?? null,
      );
      const $ = (i: number) => `$${p + i}`;
      return `(${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)}::jsonb, ${$(6)}, ${$(7)}, 'CREATED',
        now() + make_interval(secs => ${$(8)}::double precision / 1000),
        ${$(9)}, ${$(10)}, ${$(11)}, ${$(12)}, ${$(13)}::int, ${$(14)})`;
    });
    const rows: Record<string, unknown>[] = await this.repo.query(
      `INSERT INTO deployment_requests
         (request_id, operation, namespace, name, spec, spec_mode, body_hash, status, deadline_at,
          requested_by_key_id, requested_by_name, idempotency_key, correlation_id,
          rollback_of_revision, rollback_of_request_id)
       VALUES ${values.join(',\n')}
       ON CONFLICT ((coalesce(requested_by_key_id, '')), idempotency_key) WHERE idempotency_key IS NOT NULL
       DO NOTHING
       RETURNING *`,
      params,
    );
    const byId = new Map(rows.map((row) => [row.request_id as string, row]));
    return batch.map((r) => {
      const row = byId.get(r.requestId);
      return row ? this.hydrate(row) : null;
    });
  }

  /** The request this API key (null: the reconciler) sent with this Idempotency-Key. */
  findByIdempotencyKey(keyId: string | null, idempotencyKey: string): Promise<DeploymentRequestEntity | null> {
    return this.repo
      .createQueryBuilder('r')
      .where(`coalesce(r.requested_by_key_id, '') = :keyId AND r.idempotency_key = :idempotencyKey`, {
        keyId: keyId ?? '',
        idempotencyKey,
      })
      .getOne();
  }

  /** Where a request stands, so a few columns and no entity. */
  async findState(requestId: string): Promise<RequestState | null> {
    const rows: StateRow[] = await this.repo.query(
      `SELECT namespace, name, status, dead_lettered, error_code, error_message
       FROM deployment_requests WHERE request_id = $1`,
      [requestId],
    );
    return rows[0] ? toState(rows[0]) : null;
  }

  /** One request; null when absent or, given a scope, outside it (the caller cannot tell which). */
  findById(requestId: string, scope?: NamespaceScope): Promise<DeploymentRequestEntity | null> {
    const q = this.repo.createQueryBuilder('r').where('r.request_id = :requestId', { requestId });
    const inScope = namespaceScopeWhere('r.namespace', scope);
    if (inScope) q.andWhere(inScope.sql, inScope.params);
    return q.getOne();
  }

  async list(f: RequestFilter): Promise<DeploymentRequestEntity[]> {
    const q = this.repo.createQueryBuilder('r').orderBy('r.seq', 'DESC').limit(f.limit);
    const inScope = namespaceScopeWhere('r.namespace', f.scope);
    if (inScope) q.andWhere(inScope.sql, inScope.params);
    if (f.namespace) q.andWhere('r.namespace = :ns', { ns: f.namespace });
    if (f.name) q.andWhere('r.name = :name', { name: f.name });
    if (f.status) q.andWhere('r.status = :status', { status: f.status });
    if (f.deadLettered !== undefined) q.andWhere('r.dead_lettered = :dl', { dl: f.deadLettered });
    if (f.beforeSeq !== undefined) q.andWhere('r.seq < :seq', { seq: f.beforeSeq });
    return q.getMany();
  }

  async recentFor(namespace: string, name: string, limit: number): Promise<DeploymentRequestEntity[]> {
    return this.list({ namespace, name, limit });
  }

  /** CREATED → QUEUED once the messages are on the stream. */
  async markQueued(requestIds: string[]): Promise<number> {
    const res: [unknown[], number] = await this.repo.query(MARK_QUEUED_SQL, [requestIds]);
    return res[1];
  }

  /**
   * Runs fn on the CREATED requests older than minAgeMs (oldest first), row-locked in one
   * transaction; fn's markQueued runs in it too. SKIP LOCKED lets every relay run at once
   * without two of them taking the same rows. fn throwing rolls the marks back.
   */
  async withCreated<T>(
    minAgeMs: number,
    limit: number,
    fn: (rows: CreatedRequest[], markQueued: (requestIds: string[]) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    return this.ds.transaction(async (m) => {
      const rows: { request_id: string; generation: number; correlation_id: string | null }[] = await m.query(
        `SELECT request_id, generation, correlation_id FROM deployment_requests
         WHERE status = 'CREATED' AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [minAgeMs, limit],
      );
      const markQueued = async (requestIds: string[]) => {
        if (requestIds.length) await m.query(MARK_QUEUED_SQL, [requestIds]);
      };
      return fn(
        rows.map((r) => ({ requestId: r.request_id, generation: r.generation, correlationId: r.correlation_id })),
        markQueued,
      );
    });
  }

  /**
   * Runs fn holding one deployment's session advisory lock, if no one else holds it; never
   * waits. fn gets the lock's own session: claims and status writes run on it, so once the
   * session is gone (and PostgreSQL has freed the lock for another worker) they fail instead
   * of acting without the lock. That is the fence.
   */
  tryWithTargetLock<T>(namespace: string, name: string, fn: (lock: TargetLock) => Promise<T>): Promise<LockAttempt<T>> {
    return tryWithAdvisoryLock(this.ds, targetLockKey(namespace, name), (session) =>
      fn(new TargetLock(namespace, name, session, (row) => this.hydrate(row))),
    );
  }

  /**
   * The worker's first read, and tryWithTargetLock in the same statement: where the request
   * stands (null: no such request) and, if it is open and no one else holds its deployment's
   * lock, fn's answer under that lock. The state is read as of before the lock was taken; the
   * claim, under the lock, reads again.
   */
  async tryWithRequestTargetLock<T>(
    requestId: string,
    fn: (lock: TargetLock) => Promise<T>,
  ): Promise<{ state: RequestState | null; attempt: LockAttempt<T> }> {
    const { read, attempt } = await tryWithAdvisoryLockInRead(
      this.ds,
      async (query) => {
        const [row] = (await query(STATE_AND_LOCK_SQL, [requestId])) as (StateRow & { locked: boolean })[];
        const state = row ? toState(row) : null;
        return { value: state, locked: state && row.locked ? targetLockKey(state.namespace, state.name) : undefined };
      },
      (session, state) => fn(new TargetLock(state!.namespace, state!.name, session, (row) => this.hydrate(row))),
    );
    return { state: read, attempt };
  }

  async fail(requestId: string, code: string, message: string, deadLettered: boolean) {
    await this.repo.query(FAIL_SQL, [requestId, code, sanitizeReason(message), deadLettered]);
  }

  /**
   * FAILURE → CREATED for a manual retry, with a fresh deadline and a new message generation.
   * Null when the request is not FAILURE, or when a newer request of the same deployment
   * succeeded or is still open (see newerStandingRequest): its intent would be overwritten.
   */
  async reopenForRetry(requestId: string, deadlineMs: number): Promise<DeploymentRequestEntity | null> {
    const rows = await this.updateReturning(
      `UPDATE deployment_requests r
       SET status = 'CREATED', generation = generation + 1, dead_lettered = false, error_code = NULL, retry_at = NULL,
           error_message = NULL, completed_at = NULL, queued_at = NULL, started_at = NULL, updated_at = now(),
           deadline_at = now() + make_interval(secs => $2::double precision / 1000)
       WHERE r.request_id = $1 AND r.status = 'FAILURE'
         AND NOT EXISTS (
           SELECT 1 FROM deployment_requests n
           WHERE n.namespace = r.namespace AND n.name = r.name AND n.seq > r.seq AND n.status <> 'FAILURE')
       RETURNING r.*`,
      [requestId, deadlineMs],
    );
    return rows[0] ?? null;
  }

  /**
   * The newest request of the same deployment, accepted after `request`, that succeeded or is
   * still open: one whose intent stands or will. Newer FAILUREs changed nothing and do not count.
   */
  async newerStandingRequest(request: {
    namespace: string;
    name: string;
    seq: number;
  }): Promise<DeploymentRequestEntity | null> {
    return this.repo
      .createQueryBuilder('r')
      .where('r.namespace = :ns AND r.name = :name AND r.seq > :seq', {
        ns: request.namespace,
        name: request.name,
        seq: request.seq,
      })
      .andWhere(`r.status <> 'FAILURE'`)
      .orderBy('r.seq', 'DESC')
      .limit(1)
      .getOne();
  }

  /** QUEUED or PROCESSING requests with no progress for stallMs, still inside their deadline. */
  async findStalled(stallMs: number, limit: number): Promise<DeploymentRequestEntity[]> {
    return this.repo
      .createQueryBuilder('r')
      .where(`r.status IN ('QUEUED', 'PROCESSING')`)
      .andWhere(`r.updated_at < now() - make_interval(secs => :age::double precision / 1000)`, { age: stallMs })
      .andWhere('r.deadline_at >= now()')
      .orderBy('r.seq', 'ASC')
      .limit(limit)
      .getMany();
  }

  async findPastDeadline(limit: number): Promise<DeploymentRequestEntity[]> {
    return this.repo
      .createQueryBuilder('r')
      .where(`r.${OPEN}`)
      .andWhere('r.deadline_at < now()')
      .orderBy('r.seq', 'ASC')
      .limit(limit)
      .getMany();
  }

  /** A new message generation, so a re-published message is not dropped as a duplicate. */
  async bumpGeneration(requestId: string): Promise<number | null> {
    const rows = await this.updateReturning(
      `UPDATE deployment_requests SET generation = generation + 1, updated_at = now()
       WHERE request_id = $1 AND ${OPEN} RETURNING *`,
      [requestId],
    );
    return rows[0]?.generation ?? null;
  }

  /** Runs fn only if no worker holds the deployment's lock right now; undefined otherwise. */
  async ifTargetIdle<T>(namespace: string, name: string, fn: () => Promise<T>): Promise<T | undefined> {
    const attempt = await tryWithAdvisoryLock(this.ds, targetLockKey(namespace, name), fn);
    return attempt.acquired ? attempt.value : undefined;
  }

  /**
   * Successful requests since each deployment's last full spec (CREATE or PUT), ordered by
   * target then acceptance: enough to work out what we last asked Kubernetes for. `range`
   * limits it to the targets from..to (both included, in (namespace, name) order), so a
   * caller can walk the targets in batches.
   */
  async successfulSinceLastReplace(range?: {
    from: [string, string];
    to: [string, string];
  }): Promise<SuccessfulRequestRow[]> {
    const inRange = range
      ? 'AND (namespace, name) >= ($1::text, $2::text) AND (namespace, name) <= ($3::text, $4::text)'
      : '';
    const rows: {
      namespace: string;
      name: string;
      operation: Operation;
      spec_mode: SpecMode;
      spec: DeploymentSpecPatch | null;
      request_id: string;
    }[] = await this.repo.query(
      `
        WITH last_replace AS (
          SELECT DISTINCT ON (namespace, name) namespace, name, seq
          FROM deployment_requests
          WHERE status = 'SUCCESS' AND operation IN ('CREATE', 'UPDATE') AND spec_mode = 'REPLACE' ${inRange}
          ORDER BY namespace, name, seq DESC
        )
        SELECT r.namespace, r.name, r.operation, r.spec_mode, r.spec, r.request_id
        FROM deployment_requests r JOIN last_replace l USING (namespace, name)
        WHERE r.status = 'SUCCESS' AND r.seq >= l.seq
        ORDER BY r.namespace, r.name, r.seq`,
      range ? [...range.from, ...range.to] : [],
    );
    return rows.map((r) => ({
      namespace: r.namespace,
      name: r.name,
      operation: r.operation,
      specMode: r.spec_mode,
      spec: r.spec,
      requestId: r.request_id,
    }));
  }

  /**
   * Of the given deployments, those with an open request or one completed at or after
   * `since` (the reconcile pass's start): their live state may be mid-change, so the
   * drift check must not judge them.
   */
  async busyTargets(
    targets: { namespace: string; name: string }[],
    since: Date,
  ): Promise<{ namespace: string; name: string }[]> {
    if (targets.length === 0) return [];
    return this.repo.query(
      `SELECT DISTINCT r.namespace, r.name
       FROM unnest($1::text[], $2::text[]) AS t(namespace, name)
       JOIN deployment_requests r ON r.namespace = t.namespace AND r.name = t.name
       WHERE r.${OPEN} OR r.completed_at >= $3`,
      [targets.map((t) => t.namespace), targets.map((t) => t.name), since],
    );
  }

  /**
   * Request counts by status and the age of the oldest CREATED request, in one GROUP BY (the
   * (status, seq) index serves it); read at scrape time, at most every few seconds.
   */
  async statusCounts(): Promise<{
    byStatus: { status: RequestStatus; count: number }[];
    oldestCreatedAgeSeconds: number;
  }> {
    const rows: { status: RequestStatus; count: string; oldest_age: string | null }[] = await this.repo.query(
      `SELECT status, count(*) AS count,
              CASE WHEN status = 'CREATED' THEN EXTRACT(EPOCH FROM now() - min(created_at)) END AS oldest_age
         FROM deployment_requests GROUP BY status`,
    );
    return {
      byStatus: rows.map((r) => ({ status: r.status, count: Number(r.count) })),
      oldestCreatedAgeSeconds: Math.max(0, Number(rows.find((r) => r.oldest_age !== null)?.oldest_age ?? 0)),
    };
  }

  /** Every SUCCESS request of one deployment, in acceptance order: its revisions are folded from them. */
  successfulFor(namespace: string, name: string): Promise<DeploymentRequestEntity[]> {
    return this.repo
      .createQueryBuilder('r')
      .where(`r.namespace = :namespace AND r.name = :name AND r.status = 'SUCCESS'`, { namespace, name })
      .orderBy('r.seq', 'ASC')
      .getMany();
  }

  /** The oldest DELETE of one deployment that is still open, if any. */
  openDeleteFor(namespace: string, name: string): Promise<DeploymentRequestEntity | null> {
    return this.repo
      .createQueryBuilder('r')
      .where(`r.namespace = :namespace AND r.name = :name AND r.operation = 'DELETE' AND r.${OPEN}`, {
        namespace,
        name,
      })
      .orderBy('r.seq', 'ASC')
      .limit(1)
      .getOne();
  }

  /**
   * SUCCESS requests whose rollout receipt is not final (the partial index of migration
   * 1764400810000 serves it), oldest first, each with its Deployment's mirror row (null when
   * the mirror has none): of the given Deployments, or of all.
   */
  async openReceipts(
    targets?: { namespace: string; name: string }[],
    limit = OPEN_RECEIPTS_LIMIT,
  ): Promise<{ request: ReceiptRequest; observed: ObservedDeployment | null }[]> {
    if (targets && targets.length === 0) return [];
    const rows: OpenReceiptRow[] = await this.repo.query(
      `SELECT r.request_id, r.namespace, r.name, r.seq, r.operation, r.result_generation, r.result_resource_version, r.rollout,
              d.name IS NOT NULL AS mirrored, d.deleted_at IS NOT NULL AS deleted, d.generation,
              d.observed_generation, d.resource_version, d.rollout AS mirror_rollout, d.desired_replicas,
              d.updated_replicas, d.ready_replicas, d.available_replicas, w.seq AS last_writer_seq,
              (SELECT c FROM jsonb_array_elements(d.conditions) AS c WHERE c->>'type' = 'Progressing' LIMIT 1)
                AS progressing
       FROM deployment_requests r
       LEFT JOIN deployments d ON d.namespace = r.namespace AND d.name = r.name
       LEFT JOIN deployment_requests w
         ON w.request_id = d.last_request_id AND w.namespace = r.namespace AND w.name = r.name
       WHERE r.status = 'SUCCESS' AND r.rollout->>'state' IN ('WAITING', 'PROGRESSING')
         AND ($1::text[] IS NULL
              OR (r.namespace, r.name) IN (SELECT * FROM unnest($1::text[], $2::text[])))
       ORDER BY r.seq LIMIT $3`,
      [targets?.map((t) => t.namespace) ?? null, targets?.map((t) => t.name) ?? null, limit],
    );
    return rows.map((r) => ({
      request: {
        requestId: r.request_id,
        namespace: r.namespace,
        name: r.name,
        seq: Number(r.seq),
        operation: r.operation,
        generation: r.result_generation === null ? null : Number(r.result_generation),
        resourceVersion: r.result_resource_version,
        rollout: r.rollout,
      },
      observed: r.mirrored
        ? {
            deleted: r.deleted,
            generation: Number(r.generation),
            observedGeneration: Number(r.observed_generation),
            resourceVersion: r.resource_version,
            rollout: r.mirror_rollout,
            replicas: {
              desired: r.desired_replicas,
              updated: r.updated_replicas,
              ready: r.ready_replicas,
              available: r.available_replicas,
            },
            progressing: r.progressing
              ? { reason: r.progressing.reason ?? null, message: r.progressing.message ?? null }
              : null,
            lastWriterSeq: r.last_writer_seq === null ? null : Number(r.last_writer_seq),
          }
        : null,
    }));
  }

  /**
   * Moves receipts, each only if it still holds `from` (another process may have moved it
   * since it was read: compare-and-set, never an overwrite of newer news); returns the ids moved.
   */
  async moveReceipts(moves: { requestId: string; from: RolloutReceipt; to: RolloutReceipt }[]): Promise<string[]> {
    if (moves.length === 0) return [];
    const res: [{ request_id: string }[], number] = await this.repo.query(
      `UPDATE deployment_requests r SET rollout = m.next, updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS m(request_id text, prev jsonb, next jsonb)
       WHERE r.request_id = m.request_id AND r.status = 'SUCCESS' AND r.rollout = m.prev
         AND r.rollout IS DISTINCT FROM m.next
       RETURNING r.request_id`,
      [JSON.stringify(moves.map((m) => ({ request_id: m.requestId, prev: m.from, next: m.to })))],
    );
    return res[0].map((r) => r.request_id);
  }

  private async updateReturning(sql: string, params: unknown[]): Promise<DeploymentRequestEntity[]> {
    const res: [unknown[], number] = await this.repo.query(sql, params);
    return res[0].map((row) => this.hydrate(row));
  }

  private columns?: { column: string; property: string; from?: (raw: unknown) => unknown }[];

  /** A raw row as the entity, by the entity's own column metadata (no TypeORM transform pass: it is on the worker's hot path). */
  private hydrate(row: unknown): DeploymentRequestEntity {
    this.columns ??= this.repo.manager.connection.getMetadata(DeploymentRequestEntity).columns.map((col) => ({
      column: col.databaseName,
      property: col.propertyName,
      from:
        col.transformer && !Array.isArray(col.transformer)
          ? (raw: unknown) => (col.transformer as ValueTransformer).from(raw)
          : undefined,
    }));
    const entity = new DeploymentRequestEntity() as unknown as Record<string, unknown>;
    for (const { column, property, from } of this.columns) {
      const raw = (row as Record<string, unknown>)[column];
      entity[property] = from ? from(raw) : raw;
    }
    return entity as unknown as DeploymentRequestEntity;
  }
}
