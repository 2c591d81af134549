import { Injectable } from '@nestjs/common';
import { sanitizeReason } from '../domain/reason-text.js';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { type LockSession, lockKeySql, tryWithAdvisoryLock, withAdvisoryLock } from '../database/advisory-lock.js';
import {
  ReconcileCounts,
  ReconcileDetails,
  ReconcileRunEntity,
  ReconcileStatus,
  ReconcileTrigger,
} from './reconcile-run.entity.js';

// Fixed key: every reconciler of this database contends for the same pass lock.
export const PASS_LOCK_KEY = 0x6b38_7265;

@Injectable()
export class ReconcileRunsRepository {
  constructor(
    @InjectRepository(ReconcileRunEntity) private readonly repo: Repository<ReconcileRunEntity>,
    @InjectDataSource() private readonly ds: DataSource,
  ) {}

  async create(trigger: ReconcileTrigger, status: ReconcileStatus, runnerPid?: number): Promise<ReconcileRunEntity> {
    const [row]: { id: string }[] = await this.repo.query(
      `INSERT INTO reconcile_runs (trigger, status, started_at, runner_pid)
       VALUES ($1, $2::varchar, CASE WHEN $2::varchar = 'RUNNING' THEN clock_timestamp() END, $3) RETURNING id`,
      [trigger, status, runnerPid ?? null],
    );
    return (await this.findById(Number(row.id)))!;
  }

  async finish(id: number, counts: ReconcileCounts, details: ReconcileDetails, error: string | null) {
    await this.repo.query(
      `UPDATE reconcile_runs SET status = $2, finished_at = clock_timestamp(), inserted = $3, updated = $4, marked_deleted = $5,
         republished = $6, requeued = $7, failed = $8, drifted = $9, healed = $10, details = $11, error = $12
       WHERE id = $1`,
      [
        id,
        error ? ReconcileStatus.FAILED : ReconcileStatus.SUCCEEDED,
        counts.inserted,
        counts.updated,
        counts.markedDeleted,
        counts.republished,
        counts.requeued,
        counts.failed,
        counts.drifted,
        counts.healed,
        JSON.stringify(details),
        // A Kubernetes error may quote a NUL byte, which PostgreSQL text refuses: the run would stay RUNNING.
        error === null ? null : sanitizeReason(error),
      ],
    );
  }

  /** Ends a pass this process will not finish (shut down mid-pass), unless it has ended already. */
  async abandon(id: number, error: string) {
    await this.repo.query(
      `UPDATE reconcile_runs SET status = 'FAILED', finished_at = clock_timestamp(), error = $2,
         details = details || '{"shutdown":"abandoned"}'::jsonb
       WHERE id = $1 AND status IN ('PENDING', 'RUNNING')`,
      [id, error],
    );
  }

  findById(id: number): Promise<ReconcileRunEntity | null> {
    return this.repo.findOneBy({ id });
  }

  list(limit: number, beforeId?: number): Promise<ReconcileRunEntity[]> {
    const q = this.repo.createQueryBuilder('r').orderBy('r.id', 'DESC').limit(limit);
    if (beforeId !== undefined) q.where('r.id < :id', { id: beforeId });
    return q.getMany();
  }

  /**
   * Runs fn under the database-wide pass lock, so two reconcilers never run a pass at once.
   * With wait=false it returns undefined at once when another pass holds the lock. fn gets
   * the backend pid of the lock's session, to record on its run (see passInProgress).
   */
  async withPassLock<T>(wait: boolean, fn: (runnerPid: number) => Promise<T>): Promise<T | undefined> {
    const locked = async (session: LockSession) => {
      const [{ pid }]: { pid: number }[] = await session.query('SELECT pg_backend_pid() AS pid', []);
      return fn(pid);
    };
    if (wait) return withAdvisoryLock(this.ds, PASS_LOCK_KEY, locked);
    const attempt = await tryWithAdvisoryLock(this.ds, PASS_LOCK_KEY, locked);
    return attempt.acquired ? attempt.value : undefined;
  }

  /**
   * The run of the pass in progress: the RUNNING run whose session holds the pass lock now.
   * Rows a crashed process left RUNNING never match (their session, and so its lock, is
   * gone). Null when no pass runs, or its holder has not recorded its run yet.
   */
  async passInProgress(): Promise<ReconcileRunEntity | null> {
    const rows: { id: string }[] = await this.repo.query(
      `SELECT r.id FROM reconcile_runs r
       JOIN pg_locks l ON l.pid = r.runner_pid AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND ((l.classid::bigint << 32) | l.objid::bigint) = ${lockKeySql(PASS_LOCK_KEY)}
       WHERE r.status = 'RUNNING'
       ORDER BY r.id DESC LIMIT 1`,
      [PASS_LOCK_KEY],
    );
    return rows.length ? this.findById(Number(rows[0].id)) : null;
  }
}
