import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { tryWithAdvisoryLock, withAdvisoryLock } from '../database/advisory-lock.js';
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

  async create(trigger: ReconcileTrigger, status: ReconcileStatus): Promise<ReconcileRunEntity> {
    const [row]: { id: string }[] = await this.repo.query(
      `INSERT INTO reconcile_runs (trigger, status, started_at) VALUES ($1, $2::varchar, CASE WHEN $2::varchar = 'RUNNING' THEN clock_timestamp() END) RETURNING id`,
      [trigger, status],
    );
    return (await this.findById(Number(row.id)))!;
  }

  async markStarted(id: number) {
    await this.repo.query(
      `UPDATE reconcile_runs SET status = 'RUNNING', started_at = clock_timestamp() WHERE id = $1`,
      [id],
    );
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
        error,
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
   * With wait=false it returns undefined at once when another pass holds the lock.
   */
  async withPassLock<T>(wait: boolean, fn: () => Promise<T>): Promise<T | undefined> {
    if (wait) return withAdvisoryLock(this.ds, PASS_LOCK_KEY, fn);
    const attempt = await tryWithAdvisoryLock(this.ds, PASS_LOCK_KEY, fn);
    return attempt.acquired ? attempt.value : undefined;
  }
}
