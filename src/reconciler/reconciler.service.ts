import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { settlesWithin, ShutdownSignal } from '../common/shutdown.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DeploymentsRepository } from '../deployments/deployments.repository.js';
import { MirrorSyncService } from '../deployments/mirror-sync.service.js';
import { Operation, SpecMode } from '../requests/deployment-request.entity.js';
import type { DeploymentSpec } from '../domain/deployment-spec.js';
import { RequestsRepository } from '../requests/requests.repository.js';
import { RECONCILER, RequestsService } from '../requests/requests.service.js';
import { RequestQueue } from '../requests/request-queue.js';
import { RolloutReceipts } from '../requests/rollout-receipts.service.js';
import { attributeDrift, foreignOwners } from '../deployments/field-owners.js';
import type { DriftReport } from '../deployments/field-owners.js';
import type { DeploymentSpecPatch } from '../domain/deployment-spec.js';
import { DesiredState, desiredStates, driftedFields, healKey, targetKey } from './drift.js';
import {
  ReconcileCounts,
  ReconcileDetails,
  ReconcileRunEntity,
  ReconcileStatus,
  ReconcileTrigger,
} from './reconcile-run.entity.js';
import { ReconcileRunsRepository } from './reconcile-runs.repository.js';

// A trigger that finds the pass lock held but no run recorded yet looks again this often, this many times.
const TRIGGER_RETRY_MS = 25;
const TRIGGER_ATTEMPTS = 80;
// Live rows judged per batch of the drift step.
const DRIFT_BATCH = 1000;

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
export class ReconcilerService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ReconcilerService.name);
  /** This process's passes not yet ended: run id -> where it is, and the pass itself. */
  private readonly open = new Map<number, { at: string; pass: Promise<unknown> }>();

  constructor(
    private readonly config: AppConfig,
    private readonly runs: ReconcileRunsRepository,
    private readonly requests: RequestsRepository,
    private readonly intake: RequestsService,
    private readonly queue: RequestQueue,
    private readonly mirror: MirrorSyncService,
    private readonly deployments: DeploymentsRepository,
    private readonly metrics: MetricsService,
    private readonly shutdown: ShutdownSignal,
    private readonly receipts: RolloutReceipts,
  ) {}

  /**
   * Shutdown: a pass in progress runs no further step (it records itself abandoned, naming
   * the steps it skipped, or finished when its last step was running). One still going at
   * the work deadline is recorded abandoned here, naming the step it was in.
   */
  async beforeApplicationShutdown() {
    this.shutdown.begin();
    const passes = [...this.open.values()].map((p) => p.pass);
    if (await settlesWithin(Promise.all(passes), this.shutdown.remainingWorkMs())) return;
    for (const [id, { at }] of this.open) {
      const error = `abandoned at shutdown: the process stopped ${at}`;
      await this.runs.abandon(id, error).catch((e: Error) => this.logger.error(`pass ${id}: ${e.message}`));
      this.logger.warn(`pass ${id} ${error}`);
    }
  }

  /** A scheduled pass; skipped when another reconciler is mid-pass. */
  async runScheduled(): Promise<ReconcileRunEntity | undefined> {
    if (this.shutdown.requested) return undefined;
    const run = await this.runs.withPassLock(false, (pid) => this.execute(ReconcileTrigger.CRON, pid));
    if (!run) this.logger.log('another reconciler is running a pass; skipping this one');
    return run;
  }

  /** RECONCILE_ONCE: waits for any pass in progress, then runs one. */
  async runOnce(): Promise<ReconcileRunEntity> {
    return (await this.runs.withPassLock(true, (pid) => this.execute(ReconcileTrigger.ONCE, pid)))!;
  }

  /**
   * Manual trigger: starts a pass now and answers its run at once, or, while a pass is
   * running (any trigger, any reconciler), answers that pass's run with alreadyRunning.
   * It never queues a pass behind another, so triggers hold no connection waiting on the
   * pass lock and a burst of them yields one run.
   */
  async requestManual(): Promise<{ run: ReconcileRunEntity; alreadyRunning: boolean }> {
    if (this.shutdown.requested) {
      throw new DomainError(ErrorCode.DependencyUnavailable, 'this reconciler is shutting down; try again');
    }
    for (let attempt = 1; ; attempt++) {
      let recorded!: (run: ReconcileRunEntity) => void;
      const started = new Promise<ReconcileRunEntity>((resolve) => (recorded = resolve));
      const pass = this.runs.withPassLock(false, (pid) => this.execute(ReconcileTrigger.MANUAL, pid, recorded));
      // The run is recorded before the pass's steps start; undefined: another pass holds the lock.
      const first = await Promise.race([started, pass]);
      if (first) {
        void pass.catch((e: Error) => this.logger.error(`manual pass ${first.id} failed: ${e.message}`));
        return { run: first, alreadyRunning: false };
      }
      const running = await this.runs.passInProgress();
      if (running) return { run: running, alreadyRunning: true };
      // The holder has not recorded its run yet, or its pass just ended: look again shortly.
      if (attempt === TRIGGER_ATTEMPTS) {
        throw new DomainError(ErrorCode.DependencyUnavailable, 'a reconcile pass is starting; try again');
      }
      await new Promise((r) => setTimeout(r, TRIGGER_RETRY_MS));
    }
  }

  private async execute(
    trigger: ReconcileTrigger,
    runnerPid: number,
    onRecorded?: (run: ReconcileRunEntity) => void,
  ): Promise<ReconcileRunEntity> {
    const run = await this.runs.create(trigger, ReconcileStatus.RUNNING, runnerPid);
    onRecorded?.(run);
    let done!: () => void;
    const pass = new Promise<void>((resolve) => (done = resolve));
    this.open.set(run.id, { at: 'before its first step', pass });
    try {
      return await this.executeSteps(trigger, run.id);
    } finally {
      this.open.delete(run.id);
      done();
    }
  }

  private async executeSteps(trigger: ReconcileTrigger, id: number): Promise<ReconcileRunEntity> {
    const endTimer = this.metrics.reconcilePassSeconds.startTimer({ trigger });
    const counts = zero();
    const details: ReconcileDetails = {};
    const errors: string[] = [];
    const skipped: string[] = [];
    const step = async (name: string, fn: () => Promise<void>): Promise<boolean> => {
      if (this.shutdown.requested) {
        skipped.push(name);
        return false;
      }
      this.open.get(id)!.at = `during the ${name} step`;
      try {
        await fn();
        return true;
      } catch (e) {
        errors.push(`${name}: ${(e as Error).message}`);
        this.logger.error(`pass ${id} ${name} failed: ${(e as Error).message}`);
        return false;
      }
    };
    // The database's clock, like the requests' completed_at it is compared with.
    const startedAt = (await this.runs.findById(id))?.startedAt ?? new Date();
    const mirrorRepaired = await step('mirror', () => this.repairMirror(counts, details));
    await step('receipts', async () => {
      // Level-based, so receipts the watcher missed (it was down while a rollout ended) catch up here.
      details.receiptsMoved = await this.receipts.advance();
    });
    await step('requests', () => this.recoverRequests(counts));
    await step('drift', () => this.reportDrift(counts, details, startedAt, mirrorRepaired));
    if (skipped.length) errors.push(`abandoned at shutdown: the ${skipped.join(', ')} step(s) did not run`);
    if (this.shutdown.requested) details.shutdown = skipped.length ? 'abandoned' : 'finished';
    const error = errors.length ? errors.join('; ') : null;
    await this.runs.finish(id, counts, details, error);
    const result = error ? 'failed' : 'succeeded';
    this.metrics.reconcileRuns.inc({ trigger, result });
    endTimer({ result });
    for (const [kind, n] of Object.entries(counts)) this.metrics.reconcileItems.inc({ kind }, n);
    if (!error) this.metrics.reconcileLastSuccess.setToCurrentTime();
    this.logger.log(`pass ${id} (${trigger}) ${error ? 'failed' : 'done'}: ${JSON.stringify(counts)}`);
    return (await this.runs.findById(id))!;
  }

  private async repairMirror(counts: ReconcileCounts, details: ReconcileDetails) {
    const r = await this.mirror.resync('repair');
    counts.inserted = r.inserted;
    counts.updated = r.updated;
    counts.markedDeleted = r.markedDeleted;
    if (r.resets?.length) details.mirrorResets = r.resets;
    if (r.invalidResourceVersions) details.invalidResourceVersions = r.invalidResourceVersions;
  }

  /** Re-drives stuck requests: never published, past their deadline, or stalled in flight. */
  private async recoverRequests(counts: ReconcileCounts) {
    counts.republished = await this.queue.republishStuckCreated();
    counts.failed = await this.queue.expireOverdue();
    counts.requeued = await this.queue.requeueStalled();
  }

  /**
   * Reports Deployments whose live managed fields differ from what we last asked for, and
   * with SELF_HEAL restores them, without fighting anyone:
   * - a field another field manager owns now (a kubectl scale, a kubectl edit) is
   *   reported with its manager and when it last changed the object, and never reverted;
   * - a field owned by a manager in MANAGED_ELSEWHERE_FIELD_MANAGERS (the HPA controller) is
   *   managedElsewhere: not drift, never healed;
   * - a deployment with a request open, or completed since the pass began (its desired and
   *   live specs may have been read on either side of it, so it would look drifted), is not
   *   judged this pass;
   * - the heal's Idempotency-Key is stable (target + hash of what it restores), so repeated
   *   passes replay one heal instead of queueing more;
   * - nothing is healed when the mirror repair failed: the live side may be stale.
   */
  private async reportDrift(
    counts: ReconcileCounts,
    details: ReconcileDetails,
    passStartedAt: Date,
    mirrorRepaired: boolean,
  ) {
    const ours = this.config.KUBE_FIELD_MANAGER;
    const elsewhere = new Set(this.config.MANAGED_ELSEWHERE_FIELD_MANAGERS.filter((m) => m !== ours));
    const checkedAt = passStartedAt.toISOString();
    const candidates: {
      namespace: string;
      name: string;
      /** Every field that differs, drift or managed elsewhere. */
      differing: string[];
      /** The drifted ones: differing, minus those managed elsewhere. */
      fields: string[];
      report: DriftReport;
      want: DesiredState;
      foreign: { field: string; manager: string }[];
    }[] = [];
    // A batch of live rows at a time, with the request history of the same key range: a pass
    // holds one batch of specs, not every one (a request completing between the two reads is
    // caught by busyTargets below, whichever read saw it).
    for (let after: [string, string] | undefined; ;) {
      const page = await this.deployments.liveSpecs(after, DRIFT_BATCH);
      if (!page.length) break;
      const first = page[0];
      const last = page[page.length - 1];
      const desired = desiredStates(
        await this.requests.successfulSinceLastReplace({
          from: [first.namespace, first.name],
          to: [last.namespace, last.name],
        }),
      );
      for (const live of page) {
        const want = desired.get(targetKey(live.namespace, live.name));
        if (!want || !live.spec) continue;
        const differing = driftedFields(want.spec, live.spec);
        if (!differing.length) continue;
        const report = attributeDrift(differing, live.fieldOwners, live.managerTimes, elsewhere, checkedAt);
        const fields = report.fields.map((f) => f.field);
        const foreign = foreignOwners(live.fieldOwners, fields, ours);
        candidates.push({ namespace: live.namespace, name: live.name, differing, fields, report, want, foreign });
      }
      if (page.length < DRIFT_BATCH) break;
      after = [last.namespace, last.name];
    }
    const busy = new Set(
      (await this.requests.busyTargets(candidates, passStartedAt)).map((b) => targetKey(b.namespace, b.name)),
    );
    const skipped = candidates.filter((c) => busy.has(targetKey(c.namespace, c.name)));
    const judged = candidates.filter((c) => !busy.has(targetKey(c.namespace, c.name)));
    const drifted = judged.filter((c) => c.fields.length > 0);
    const elsewhereOnly = judged.filter((c) => c.fields.length === 0);
    await this.deployments.markDrifted(drifted, skipped, elsewhereOnly);
    counts.drifted = drifted.length;
    details.drifted = drifted.map(({ namespace, name, fields }) => ({ namespace, name, fields }));
    details.ownedDrift = drifted.flatMap(({ namespace, name, foreign }) =>
      foreign.map((f) => ({ namespace, name, ...f })),
    );
    details.managedElsewhere = judged.flatMap(({ namespace, name, report }) =>
      report.managedElsewhere.map(({ field, manager }) => ({ namespace, name, field, manager })),
    );
    details.skipped = skipped.map(({ namespace, name }) => ({
      namespace,
      name,
      reason: 'a request is open or completed during this pass',
    }));
    if (!this.config.SELF_HEAL) return;
    details.healRequests = [];
    if (!mirrorRepaired) {
      details.healSkipped = 'the mirror repair failed: the live state may be stale';
      this.logger.warn(`no self-heal this pass: ${details.healSkipped}`);
      return;
    }
    for (const d of drifted) {
      // Fields managed elsewhere count as owned: a whole-spec heal would overwrite them.
      const owned = new Set([...d.foreign.map((f) => f.field), ...d.report.managedElsewhere.map((f) => f.field)]);
      const heal = healBody(d.want.spec, d.differing, owned);
      if (!heal) continue;
      try {
        const { request, replayed } = await this.intake.submit({
          operation: Operation.UPDATE,
          namespace: d.namespace,
          name: d.name,
          spec: heal.spec,
          specMode: heal.specMode,
          idempotencyKey: healKey(d.namespace, d.name, d.want.basis, heal),
          requester: RECONCILER,
        });
        // A replay is a heal an earlier pass already queued for this very drift.
        if (replayed) continue;
        details.healRequests.push(request.requestId);
        counts.healed++;
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        this.logger.warn(`could not heal ${d.namespace}/${d.name}: ${e.message}`);
      }
    }
  }
}

// What a PATCH sends to clear a field the desired spec leaves out.
const CLEARED: Partial<Record<string, unknown>> = { env: {}, labels: {}, annotations: {}, resources: {} };

/**
 * The request that restores the drifted fields nobody else owns: the whole desired spec
 * when that is every drifted field, else a PATCH naming only those (the worker merges it
 * over the live object, so another manager's values stay). Undefined: nothing to heal.
 */
export function healBody(
  want: DeploymentSpec,
  fields: string[],
  foreign: Set<string>,
): { specMode: SpecMode; spec: DeploymentSpecPatch } | undefined {
  const healable = fields.filter((f) => !foreign.has(f));
  if (!healable.length) return undefined;
  if (healable.length === fields.length) return { specMode: SpecMode.REPLACE, spec: want };
  const patch: Record<string, unknown> = {};
  for (const f of healable) {
    const value = (want as unknown as Record<string, unknown>)[f] ?? CLEARED[f];
    if (value !== undefined) patch[f] = value;
  }
  return Object.keys(patch).length ? { specMode: SpecMode.MERGE, spec: patch as DeploymentSpecPatch } : undefined;
}
