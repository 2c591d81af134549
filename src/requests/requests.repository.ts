import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { DeploymentRequestEntity, Operation, RequestStatus, SpecMode } from './deployment-request.entity.js';
import type { DeploymentSpecPatch } from './deployment-spec.js';

export interface NewRequest {
  requestId: string;
  operation: Operation;
  namespace: string;
  name: string;
  spec: DeploymentSpecPatch | null;
  specMode: SpecMode;
  bodyHash: string;
  deadlineMs: number;
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
}

const OPEN = `status NOT IN ('SUCCESS', 'FAILURE')`;

/** All SQL about deployment requests. Status changes are guarded so a request never moves backwards. */
@Injectable()
export class RequestsRepository {
  constructor(
    @InjectRepository(DeploymentRequestEntity) private readonly repo: Repository<DeploymentRequestEntity>,
    @InjectDataSource() private readonly ds: DataSource,
  ) {}

  /** Inserts unless the id exists; null means an earlier request holds this id (Idempotency-Key replay). */
  async insertIfAbsent(r: NewRequest): Promise<DeploymentRequestEntity | null> {
    const rows: unknown[] = await this.repo.query(
      `INSERT INTO deployment_requests
         (request_id, operation, namespace, name, spec, spec_mode, body_hash, status, deadline_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'CREATED', now() + make_interval(secs => $8::double precision / 1000))
       ON CONFLICT (request_id) DO NOTHING
       RETURNING *`,
      [
        r.requestId,
        r.operation,
        r.namespace,
        r.name,
        r.spec === null ? null : JSON.stringify(r.spec),
        r.specMode,
        r.bodyHash,
        r.deadlineMs,
      ],
    );
    return rows.length ? this.hydrate(rows[0]) : null;
  }

  findById(requestId: string): Promise<DeploymentRequestEntity | null> {
    return this.repo.findOneBy({ requestId });
  }

  async list(f: RequestFilter): Promise<DeploymentRequestEntity[]> {
    const q = this.repo.createQueryBuilder('r').orderBy('r.seq', 'DESC').limit(f.limit);
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

  /** CREATED → QUEUED once the messages are on the stream; a worker may already have moved them on. */
  async markQueued(requestIds: string[]): Promise<number> {
    const res: [unknown[], number] = await this.repo.query(
      `UPDATE deployment_requests SET status = 'QUEUED', queued_at = now(), updated_at = now()
       WHERE request_id = ANY($1) AND status = 'CREATED'`,
      [requestIds],
    );
    return res[1];
  }

  /**
   * Hands CREATED requests older than minAgeMs to `publish`, oldest first, and marks the
   * ones it published QUEUED. SKIP LOCKED lets every API replica run the relay at once.
   */
  async relayCreated(
    limit: number,
    minAgeMs: number,
    publish: (r: { requestId: string; generation: number }) => Promise<void>,
  ): Promise<number> {
    return this.ds.transaction(async (m) => {
      const rows: { request_id: string; generation: number }[] = await m.query(
        `SELECT request_id, generation FROM deployment_requests
         WHERE status = 'CREATED' AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [minAgeMs, limit],
      );
      const published: string[] = [];
      for (const row of rows) {
        await publish({ requestId: row.request_id, generation: row.generation });
        published.push(row.request_id);
      }
      if (published.length) {
        await m.query(
          `UPDATE deployment_requests SET status = 'QUEUED', queued_at = now(), updated_at = now()
           WHERE request_id = ANY($1) AND status = 'CREATED'`,
          [published],
        );
      }
      return published.length;
    });
  }

  /**
   * Runs fn while holding a session advisory lock for one deployment, on a connection of
   * its own. If the process dies the connection closes and PostgreSQL releases the lock.
   * How long it waits is the pool's lock_timeout (database.module.ts).
   */
  async withTargetLock<T>(namespace: string, name: string, fn: () => Promise<T>): Promise<T> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [`${namespace}/${name}`]);
      try {
        return await fn();
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [`${namespace}/${name}`]);
      }
    } finally {
      await runner.release();
    }
  }

  /**
   * Takes the oldest open request of a deployment for an attempt: PROCESSING, attempts + 1.
   * Null when the deployment has none left. Callers hold the deployment's lock.
   */
  async claimOldestOpen(namespace: string, name: string): Promise<DeploymentRequestEntity | null> {
    const rows = await this.updateReturning(
      `UPDATE deployment_requests
       SET status = 'PROCESSING', attempts = attempts + 1, started_at = now(), updated_at = now()
       WHERE request_id = (
         SELECT request_id FROM deployment_requests
         WHERE namespace = $1 AND name = $2 AND ${OPEN}
         ORDER BY seq LIMIT 1)
       RETURNING *`,
      [namespace, name],
    );
    return rows[0] ?? null;
  }

  async succeed(requestId: string, result: { generation: number | null; resourceVersion: string | null }) {
    await this.repo.query(
      `UPDATE deployment_requests
       SET status = 'SUCCESS', error_code = NULL, error_message = NULL, result_generation = $2,
           result_resource_version = $3, completed_at = now(), updated_at = now()
       WHERE request_id = $1 AND ${OPEN}`,
      [requestId, result.generation, result.resourceVersion],
    );
  }

  async fail(requestId: string, code: string, message: string, deadLettered: boolean) {
    await this.repo.query(
      `UPDATE deployment_requests
       SET status = 'FAILURE', error_code = $2, error_message = $3, dead_lettered = $4,
           completed_at = now(), updated_at = now()
       WHERE request_id = $1 AND ${OPEN}`,
      [requestId, code, message.slice(0, 4000), deadLettered],
    );
  }

  /** Records why an attempt failed while the request waits for its retry. */
  async noteAttemptError(requestId: string, code: string, message: string) {
    await this.repo.query(
      `UPDATE deployment_requests SET error_code = $2, error_message = $3, updated_at = now()
       WHERE request_id = $1 AND ${OPEN}`,
      [requestId, code, message.slice(0, 4000)],
    );
  }

  /** FAILURE → CREATED for a manual retry, with a fresh deadline and a new message generation. */
  async reopenForRetry(requestId: string, deadlineMs: number): Promise<DeploymentRequestEntity | null> {
    const rows = await this.updateReturning(
      `UPDATE deployment_requests
       SET status = 'CREATED', generation = generation + 1, dead_lettered = false, error_code = NULL,
           error_message = NULL, completed_at = NULL, queued_at = NULL, started_at = NULL, updated_at = now(),
           deadline_at = now() + make_interval(secs => $2::double precision / 1000)
       WHERE request_id = $1 AND status = 'FAILURE' RETURNING *`,
      [requestId, deadlineMs],
    );
    return rows[0] ?? null;
  }

  /** CREATED requests older than minAgeMs: committed but never published. */
  async findStuckCreated(minAgeMs: number, limit: number): Promise<DeploymentRequestEntity[]> {
    return this.repo
      .createQueryBuilder('r')
      .where(`r.status = 'CREATED'`)
      .andWhere(`r.updated_at < now() - make_interval(secs => :age::double precision / 1000)`, { age: minAgeMs })
      .orderBy('r.seq', 'ASC')
      .limit(limit)
      .getMany();
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
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query(`SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked`, [
        `${namespace}/${name}`,
      ]);
      if (!locked) return undefined;
      try {
        return await fn();
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [`${namespace}/${name}`]);
      }
    } finally {
      await runner.release();
    }
  }

  /**
   * Successful requests since each deployment's last full spec (CREATE or PUT), ordered by
   * target then acceptance: enough to work out what we last asked Kubernetes for.
   */
  async successfulSinceLastReplace(): Promise<SuccessfulRequestRow[]> {
    const rows: {
      namespace: string;
      name: string;
      operation: Operation;
      spec_mode: SpecMode;
      spec: DeploymentSpecPatch | null;
      request_id: string;
    }[] = await this.repo.query(`
        WITH last_replace AS (
          SELECT DISTINCT ON (namespace, name) namespace, name, seq
          FROM deployment_requests
          WHERE status = 'SUCCESS' AND operation IN ('CREATE', 'UPDATE') AND spec_mode = 'REPLACE'
          ORDER BY namespace, name, seq DESC
        )
        SELECT r.namespace, r.name, r.operation, r.spec_mode, r.spec, r.request_id
        FROM deployment_requests r JOIN last_replace l USING (namespace, name)
        WHERE r.status = 'SUCCESS' AND r.seq >= l.seq
        ORDER BY r.namespace, r.name, r.seq`);
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

  private async updateReturning(sql: string, params: unknown[]): Promise<DeploymentRequestEntity[]> {
    const res: [unknown[], number] = await this.repo.query(sql, params);
    return res[0].map((row) => this.hydrate(row));
  }

  private hydrate(row: unknown): DeploymentRequestEntity {
    return this.repo.create(
      this.repo.manager.connection.getMetadata(DeploymentRequestEntity).columns.reduce((acc, col) => {
        const raw = (row as Record<string, unknown>)[col.databaseName];
        (acc as Record<string, unknown>)[col.propertyName] =
          col.transformer && !Array.isArray(col.transformer) ? col.transformer.from(raw) : raw;
        return acc;
      }, {} as Partial<DeploymentRequestEntity>),
    );
  }
}
