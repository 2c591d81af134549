import { Injectable } from '@nestjs/common';
import { backoffDelay } from '../common/backoff.js';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { diffSpecs, type DryRunOutcome, type SpecChange } from '../domain/spec-diff.js';
import { fieldOwnersOf, foreignOwners } from '../deployments/field-owners.js';
import { KubernetesGateway, type DeploymentObject } from '../kubernetes/kubernetes.gateway.js';
import { specFromDeployment } from '../kubernetes/manifest.js';
import type { DryRunMessage } from '../requests/dry-run-subject.js';
import { namespaceMissing, planWrite, type WriteIntent, type WritePlan } from './write-plan.js';

/** Stamped in the manifest's request-id annotation, which is never compared and never stored. */
const DRY_RUN_REQUEST_ID = 'dry-run';

/**
 * Read-and-write rounds before a dry run answers 409. More than the worker's CONFLICT_RETRIES,
 * with a pause between them: the worker's request is redelivered after its conflicts, but a
 * dry run's 409 goes to the user, and right after a scale the deployment controller rewrites
 * the status (so the resourceVersion) several times within a second.
 */
export const DRY_RUN_ATTEMPTS = 6;
/** Pauses between rounds: 50, 100, 200, 400, 800 ms (±20%), 1.55 s in all. */
const CONFLICT_PAUSE = { baseMs: 50, maxMs: 800 };

/**
 * Runs the write a request would make with dryRun=All, from the same plan as the real apply
 * (write-plan.ts), so its refusals are the ones the request would end with. Never writes:
 * not even the field adoption the real apply does first (see pendingAdoption).
 */
@Injectable()
export class DryRunService {
  constructor(
    private readonly config: AppConfig,
    private readonly k8s: KubernetesGateway,
  ) {}

  random: () => number = Math.random;
  sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

  async run(msg: DryRunMessage): Promise<DryRunOutcome> {
    const intent: WriteIntent = { ...msg, requestId: DRY_RUN_REQUEST_ID };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(intent);
      } catch (e) {
        // It changed between our read and the dry-run write: read and decide again, as the real apply does.
        if (!(e instanceof DomainError && e.code === ErrorCode.ResourceVersionConflict) || attempt >= DRY_RUN_ATTEMPTS)
          throw e;
        await this.sleep(backoffDelay(attempt, CONFLICT_PAUSE, this.random));
      }
    }
  }

  private async once(intent: WriteIntent): Promise<DryRunOutcome> {
    const current = await this.k8s.getDeployment(intent.namespace, intent.name);
    const plan = planWrite(intent, current);
    const warnings: string[] = [];
    const after = await this.write(intent, plan, warnings);
    const changes = diffSpecs(current && specFromDeployment(current), after && specFromDeployment(after));
    if (plan.kind === 'apply') warnings.push(...this.takeOvers(plan.live, changes));
    return { wouldChange: changes.length > 0, changes, warnings };
  }

  /** The object as the write would leave it (null: gone), with the apiserver's warnings. */
  private async write(intent: WriteIntent, plan: WritePlan, warnings: string[]): Promise<DeploymentObject | null> {
    switch (plan.kind) {
      case 'none':
        return null;
      case 'delete': {
        const { uid, resourceVersion } = plan.live.metadata ?? {};
        warnings.push(...(await this.k8s.dryRunDelete(intent.namespace, intent.name, uid, resourceVersion)));
        return null;
      }
      case 'apply': {
        if (this.pendingAdoption(plan.live)) {
          warnings.push(
            'fields set by our create are not yet owned by our apply; the real write adopts them first, so a field ' +
              'it leaves out is removed there but may still show as kept here',
          );
        }
        const answer = await this.k8s.dryRunApply(plan.manifest);
        warnings.push(...answer.warnings);
        return answer.object;
      }
      case 'create': {
        if (!(await this.k8s.namespaceExists(intent.namespace))) {
          if (!this.config.CREATE_NAMESPACES) throw namespaceMissing(intent.namespace);
          // A dry-run create in a namespace that does not exist yet is refused, so nothing could be asked.
          warnings.push(
            `namespace "${intent.namespace}" does not exist: the create would make it, so Kubernetes' validation ` +
              'and admission were not asked',
          );
          return plan.manifest;
        }
        const answer = await this.k8s.dryRunCreate(plan.manifest);
        if (!answer) {
          throw new DomainError(
            ErrorCode.ResourceVersionConflict,
            `deployment ${intent.namespace}/${intent.name} was created meanwhile`,
          );
        }
        warnings.push(...answer.warnings);
        return answer.object;
      }
    }
  }

  /** Our create's "Update" entry, which the real apply turns into our "Apply" entry before it writes. */
  private pendingAdoption(live: DeploymentObject): boolean {
    const manager = this.config.KUBE_FIELD_MANAGER;
    return (live.metadata?.managedFields ?? []).some(
      (f) => f.manager === manager && f.operation === 'Update' && !f.subresource,
    );
  }

  /** Changed fields another manager owns now: the apply forces them back to ours (self-heal would not). */
  private takeOvers(live: DeploymentObject, changes: SpecChange[]): string[] {
    const spec = specFromDeployment(live);
    const owners = fieldOwnersOf(live, Object.keys(spec.labels ?? {}), Object.keys(spec.annotations ?? {}));
    const fields = [...new Set(changes.map((c) => c.path.split('.')[0]))];
    return foreignOwners(owners, fields, this.config.KUBE_FIELD_MANAGER).map(
      ({ field, manager }) => `${field} is owned by field manager "${manager}" now; the write would take it over`,
    );
  }
}
