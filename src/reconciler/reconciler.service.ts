import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RequestPublisher } from '../messaging/request-publisher.js';
import { DeploymentsRepository } from '../deployments/deployments.repository.js';
import { MirrorSyncService } from '../deployments/mirror-sync.service.js';
import { Operation, SpecMode } from '../requests/deployment-request.entity.js';
import type { DeploymentSpec } from '../requests/deployment-spec.js';
import { RequestsRepository } from '../requests/requests.repository.js';
import { RequestsService } from '../requests/requests.service.js';
import { desiredSpecs, driftedFields, targetKey } from './drift.js';
import {
  ReconcileCounts,
  ReconcileDetails,
  ReconcileRunEntity,
  ReconcileStatus,
  ReconcileTrigger,
} from './reconcile-run.entity.js';
import { ReconcileRunsRepository } from './reconcile-runs.repository.js';

const BATCH = 500;

const zero = (): ReconcileCounts => ({
  inserted: 0,
  updated: 0,
  markedDeleted: 0,
  republished: 0,
  requeued: 0,
  failed: 0,
  drifted: 0,
  healed: 0,
});

/**
 * One reconcile pass: repair the mirror from Kubernetes, re-drive requests that got
 * stuck, and report (optionally heal) Deployments edited out of band. Each step runs even
 * when an earlier one failed; the run records every count and the first error.
 */
@Injectable()
export class ReconcilerService {
  private readonly logger = new Logger(ReconcilerService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly runs: ReconcileRunsRepository,
    private readonly requests: RequestsRepository,
    private readonly intake: RequestsService,
    private readonly publisher: RequestPublisher,
    private readonly mirror: MirrorSyncService,
    private readonly deployments: DeploymentsRepository,
    private readonly metrics: MetricsService,
  ) {}

  /** A scheduled pass; skipped when another reconciler is mid-pass. */
  async runScheduled(): Promise<ReconcileRunEntity | undefined> {
    const run = await this.runs.withPassLock(false, () => this.execute(ReconcileTrigger.CRON));
    if (!run) this.logger.log('another reconciler is running a pass; skipping this one');
    return run;
  }

  /** RECONCILE_ONCE: waits for any pass in progress, then runs one. */
  async runOnce(): Promise<ReconcileRunEntity> {
    return (await this.runs.withPassLock(true, () => this.execute(ReconcileTrigger.ONCE)))!;
  }

  /** Manual trigger: records the run at once (PENDING) and runs it after any pass in progress. */
  async requestManual(): Promise<ReconcileRunEntity> {
    const run = await this.runs.create(ReconcileTrigger.MANUAL, ReconcileStatus.PENDING);
    void this.runs
      .withPassLock(true, () => this.execute(ReconcileTrigger.MANUAL, run.id))
      .catch((e: Error) => this.logger.error(`manual pass ${run.id} failed: ${e.message}`));
    return run;
  }

  private async execute(trigger: ReconcileTrigger, existingId?: number): Promise<ReconcileRunEntity> {
    const id = existingId ?? (await this.runs.create(trigger, ReconcileStatus.RUNNING)).id;
    if (existingId) await this.runs.markStarted(id);
    const counts = zero();
    const details: ReconcileDetails = {};
    const errors: string[] = [];
    const step = async (name: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (e) {
        errors.push(`${name}: ${(e as Error).message}`);
        this.logger.error(`pass ${id} ${name} failed: ${(e as Error).message}`);
      }
    };
    await step('mirror', () => this.repairMirror(counts));
    await step('requests', () => this.recoverRequests(counts));
    await step('drift', () => this.reportDrift(id, counts, details));
    const error = errors.length ? errors.join('; ') : null;
    await this.runs.finish(id, counts, details, error);
    this.metrics.reconcileRuns.inc({ trigger, result: error ? 'failed' : 'succeeded' });
    this.logger.log(`pass ${id} (${trigger}) ${error ? 'failed' : 'done'}: ${JSON.stringify(counts)}`);
    return (await this.runs.findById(id))!;
  }

  private async repairMirror(counts: ReconcileCounts) {
    const r = await this.mirror.resync('repair');
    counts.inserted = r.inserted;
    counts.updated = r.updated;
    counts.markedDeleted = r.markedDeleted;
  }

  private async recoverRequests(counts: ReconcileCounts) {
    // Never published (NATS was down and no relay ran): publish now.
    for (const r of await this.requests.findStuckCreated(this.config.RECONCILE_STUCK_CREATED_MS, BATCH)) {
      await this.publisher.publish(r.requestId, r.generation);
      await this.requests.markQueued([r.requestId]);
      counts.republished++;
    }
    // Past its deadline: fail it, unless a worker is on it right now.
    for (const r of await this.requests.findPastDeadline(BATCH)) {
      const failed = await this.requests.ifTargetIdle(r.namespace, r.name, async () => {
        await this.requests.fail(
          r.requestId,
          ErrorCode.DeadlineExceeded,
          'no worker completed the request before its deadline',
          false,
        );
        return true;
      });
      if (failed) counts.failed++;
    }
    // In flight with no progress and no live message behind it: wake a worker again.
    for (const r of await this.requests.findStalled(this.config.RECONCILE_STALLED_MS, BATCH)) {
      const generation = await this.requests.bumpGeneration(r.requestId);
      if (generation === null) continue;
      await this.publisher.publish(r.requestId, generation);
      counts.requeued++;
    }
  }

  private async reportDrift(runId: number, counts: ReconcileCounts, details: ReconcileDetails) {
    const desired = desiredSpecs(await this.requests.successfulSinceLastReplace());
    const drifted: { namespace: string; name: string; fields: string[]; spec: DeploymentSpec }[] = [];
    for (const live of await this.deployments.liveSpecs()) {
      const want = desired.get(targetKey(live.namespace, live.name));
      if (!want || !live.spec) continue;
      const fields = driftedFields(want, live.spec);
      if (fields.length) drifted.push({ namespace: live.namespace, name: live.name, fields, spec: want });
    }
    await this.deployments.markDrifted(drifted);
    counts.drifted = drifted.length;
    details.drifted = drifted.map(({ namespace, name, fields }) => ({ namespace, name, fields }));
    if (!this.config.SELF_HEAL) return;
    details.healRequests = [];
    for (const d of drifted) {
      try {
        const { request } = await this.intake.submit({
          operation: Operation.UPDATE,
          namespace: d.namespace,
          name: d.name,
          spec: d.spec,
          specMode: SpecMode.REPLACE,
          idempotencyKey: `reconcile-${runId}-${d.namespace}-${d.name}`,
        });
        details.healRequests.push(request.requestId);
        counts.healed++;
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        this.logger.warn(`could not heal ${d.namespace}/${d.name}: ${e.message}`);
      }
    }
  }
}
