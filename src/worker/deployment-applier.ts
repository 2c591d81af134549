import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { KubernetesGateway, type DeploymentObject } from '../kubernetes/kubernetes.gateway.js';
import { isManaged } from '../kubernetes/manifest.js';
import { DeploymentRequestEntity, Operation } from '../requests/deployment-request.entity.js';
import { namespaceMissing, planWrite, type WritePlan } from './write-plan.js';

export interface ApplyResult {
  generation: number | null;
  resourceVersion: string | null;
}

/** Writes that lose a resourceVersion race are re-read and tried again this many times in one attempt. */
export const CONFLICT_RETRIES = 3;
const NAMESPACE_CACHE_MS = 60_000;

/**
 * Carries one request out against Kubernetes. Every operation reads first, so it never
 * touches a Deployment we do not manage, and every write is conditional on that read: a
 * create fails if anything exists, and the other writes carry the read's resourceVersion
 * (and uid). So a write that lands late (its call timed out, it was retried, newer requests
 * succeeded) is refused with 409 instead of overwriting newer state, and a redelivery
 * leaves Kubernetes as one application did.
 */
@Injectable()
export class DeploymentApplier {
  private readonly knownNamespaces = new Map<string, number>();

  constructor(
    private readonly config: AppConfig,
    private readonly k8s: KubernetesGateway,
  ) {}

  /**
   * `fence` runs after each read and before the write that depends on it, and throws once the
   * caller no longer holds the deployment's lock. Another worker can then write only after our
   * check, so our write, conditional on an earlier read, is refused rather than landing over it.
   */
  async apply(req: DeploymentRequestEntity, fence: () => Promise<void> = async () => undefined): Promise<ApplyResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        let current = await this.k8s.getDeployment(req.namespace, req.name);
        await fence();
        // Fields our create left under its own entry must be our apply's, or a PUT could not drop them.
        if (current && isManaged(current) && req.operation !== Operation.DELETE)
          current = (await this.k8s.adoptFields(current)) ?? current;
        return await this.execute(req, planWrite(req, current));
      } catch (e) {
        // A 409: it changed since the read (a status update, our own earlier call landing late): read and decide again.
        if (!(e instanceof DomainError && e.code === ErrorCode.ResourceVersionConflict) || attempt >= CONFLICT_RETRIES)
          throw e;
      }
    }
  }

  private async execute(req: DeploymentRequestEntity, plan: WritePlan): Promise<ApplyResult> {
    switch (plan.kind) {
      case 'create':
        return this.create(req, plan.manifest);
      case 'apply':
        return result(await this.k8s.applyDeployment(plan.manifest));
      case 'delete': {
        const { uid, resourceVersion, generation } = plan.live.metadata ?? {};
        await this.k8s.deleteDeployment(req.namespace, req.name, uid, resourceVersion);
        return { generation: generation ?? null, resourceVersion: resourceVersion ?? null };
      }
      case 'none':
        return { generation: null, resourceVersion: null };
    }
  }

  /** A plain create, which fails if anything appeared since the read. */
  private async create(req: DeploymentRequestEntity, manifest: DeploymentObject): Promise<ApplyResult> {
    await this.ensureNamespace(req.namespace);
    let created: DeploymentObject | null;
    try {
      created = await this.k8s.createDeployment(manifest);
    } catch (e) {
      // The namespace went away since we last saw it: forget it, and try once more.
      if (!(e instanceof DomainError && e.code === ErrorCode.NamespaceNotFound)) throw e;
      this.knownNamespaces.delete(req.namespace);
      await this.ensureNamespace(req.namespace);
      created = await this.k8s.createDeployment(manifest);
    }
    if (!created) {
      throw new DomainError(
        ErrorCode.ResourceVersionConflict,
        `deployment ${req.namespace}/${req.name} was created meanwhile`,
      );
    }
    return result(created);
  }

  /** Namespaces seen to exist recently are not asked about again: a create then costs two calls, not three. */
  private async ensureNamespace(namespace: string) {
    const seen = this.knownNamespaces.get(namespace);
    if (seen !== undefined && Date.now() - seen < NAMESPACE_CACHE_MS) return;
    if (!(await this.k8s.namespaceExists(namespace))) {
      if (!this.config.CREATE_NAMESPACES) throw namespaceMissing(namespace);
      await this.k8s.createNamespace(namespace);
    }
    this.knownNamespaces.set(namespace, Date.now());
  }
}

const result = (d: { metadata?: { generation?: number; resourceVersion?: string } }): ApplyResult => ({
  generation: d.metadata?.generation ?? null,
  resourceVersion: d.metadata?.resourceVersion ?? null,
});
