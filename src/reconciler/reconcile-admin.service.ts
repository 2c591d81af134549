import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { NatsClient } from '../messaging/nats-client.js';
import { ReconcileRunEntity } from './reconcile-run.entity.js';
import { ReconcileRunsRepository } from './reconcile-runs.repository.js';
import { reconcileSubject } from './reconcile-subject.js';

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/** The API's side of reconciliation: ask a reconciler over NATS, read runs from PostgreSQL. */
@Injectable()
export class ReconcileAdminService {
  constructor(
    private readonly config: AppConfig,
    private readonly nats: NatsClient,
    private readonly runs: ReconcileRunsRepository,
  ) {}

  /** Asks a reconciler for a pass: a new run, or the one already running (alreadyRunning). */
  async trigger(): Promise<{ runId: number; alreadyRunning: boolean }> {
    try {
      const answer = await this.nats.request<{ runId: number; alreadyRunning?: boolean }>(
        reconcileSubject(this.config),
        {},
      );
      // A reconciler from before this field only ever started new runs.
      return { runId: answer.runId, alreadyRunning: answer.alreadyRunning ?? false };
    } catch (e) {
      if (e instanceof DomainError && e.code === ErrorCode.DependencyUnavailable) {
        throw new DomainError(
          ErrorCode.DependencyUnavailable,
          'no reconciler answered: is a process with ROLE=reconciler running?',
        );
      }
      throw e;
    }
  }

  async list(limit: number, cursor?: string): Promise<{ items: ReconcileRunEntity[]; nextCursor: string | null }> {
    const items = await this.runs.list(limit + 1, decodeCursor(cursor, isId));
    const page = items.slice(0, limit);
    return { items: page, nextCursor: items.length > limit ? encodeCursor(page[page.length - 1].id) : null };
  }

  async get(id: number): Promise<ReconcileRunEntity> {
    const run = await this.runs.findById(id);
    if (!run) throw new DomainError(ErrorCode.ReconcileRunNotFound, `reconcile run ${id} not found`);
    return run;
  }
}
