import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { KubernetesGateway, type DeploymentObject } from '../kubernetes/kubernetes.gateway.js';
import { mergeSpec } from '../domain/deployment-spec.js';
import { buildDeploymentManifest, envReferencesOf, isManaged, specFromDeployment } from '../kubernetes/manifest.js';
import { DeploymentRequestEntity, Operation, SpecMode } from '../requests/deployment-request.entity.js';
import type { DeploymentSpec } from '../domain/deployment-spec.js';

export interface ApplyResult {
  generation: number | null;
  resourceVersion: string | null;
}

/** Writes that lose a resourceVersion race are re-read and tried again this many times in one attempt. */
const CONFLICT_RETRIES = 3;
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
  apply(req: DeploymentRequestEntity, fence: () => Promise<void> = async () => undefined): Promise<ApplyResult> {
    switch (req.operation) {
      case Operation.CREATE:
        return this.onFreshRead(req, fence, (current) => this.create(req, current));
      case Operation.UPDATE:
        return this.onFreshRead(req, fence, (current) =>
          req.specMode === SpecMode.MERGE ? this.patch(req, current) : this.replace(req, current),
        );
      case Operation.DELETE:
        return this.onFreshRead(req, fence, (current) => this.remove(req, current));
    }
  }

  /**
   * Reads the Deployment and runs one conditional write on that read. A 409 means it changed
   * since (a status update, our own earlier call landing late): read again and decide again.
   */
  private async onFreshRead(
    req: DeploymentRequestEntity,
    fence: () => Promise<void>,
    write: (current: DeploymentObject | null) => Promise<ApplyResult>,
  ): Promise<ApplyResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        let current = await this.k8s.getDeployment(req.namespace, req.name);
        await fence();
        // Fields our create left under its own entry must be our apply's, or a PUT could not drop them.
        if (current && isManaged(current) && req.operation !== Operation.DELETE)
          current = (await this.k8s.adoptFields(current)) ?? current;
        return await write(current);
      } catch (e) {
        if (!(e instanceof DomainError && e.code === ErrorCode.ResourceVersionConflict) || attempt >= CONFLICT_RETRIES)
          throw e;
      }
    }
  }

  /**
   * Absent: a plain create, which fails if anything appeared since the read. Ours already
   * (a redelivery, or our earlier call that landed): apply this request's spec on top of
   * what we read. Someone else's: refused.
   */
  private async create(req: DeploymentRequestEntity, current: DeploymentObject | null): Promise<ApplyResult> {
    if (current && !isManaged(current)) {
      throw new DomainError(
        ErrorCode.Conflict,
        `deployment ${target(req)} already exists and is not managed by k8s-deployment-manager`,
      );
    }
    const manifest = buildDeploymentManifest(
      req.namespace,
      req.name,
      req.spec as DeploymentSpec,
      req.requestId,
      current?.metadata?.resourceVersion,
    );
    if (current) return result(await this.k8s.applyDeployment(manifest));
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
      throw new DomainError(ErrorCode.ResourceVersionConflict, `deployment ${target(req)} was created meanwhile`);
    }
    return result(created);
  }

  /** The whole spec, applied on the resourceVersion we read. */
  private async replace(req: DeploymentRequestEntity, current: DeploymentObject | null): Promise<ApplyResult> {
    const live = this.managed(req, current);
    return result(
      await this.k8s.applyDeployment(
        buildDeploymentManifest(
          req.namespace,
          req.name,
          req.spec as DeploymentSpec,
          req.requestId,
          live.metadata?.resourceVersion,
        ),
      ),
    );
  }

  /** The named fields merged over what Kubernetes has, applied on the resourceVersion we read. */
  private async patch(req: DeploymentRequestEntity, current: DeploymentObject | null): Promise<ApplyResult> {
    const live = this.managed(req, current);
    const patch = req.spec ?? {};
    const spec = mergeSpec(specFromDeployment(live), patch);
    // A patch that names env replaces it whole; otherwise references stay as they are.
    const references = patch.env === undefined ? envReferencesOf(live) : [];
    return result(
      await this.k8s.applyDeployment(
        buildDeploymentManifest(
          req.namespace,
          req.name,
          spec,
          req.requestId,
          live.metadata?.resourceVersion,
          references,
        ),
      ),
    );
  }

  /** Deletes exactly the object we read (uid and resourceVersion preconditions). */
  private async remove(req: DeploymentRequestEntity, current: DeploymentObject | null): Promise<ApplyResult> {
    if (!current) return { generation: null, resourceVersion: null };
    if (!isManaged(current)) {
      throw new DomainError(ErrorCode.Forbidden, `deployment ${target(req)} is not managed by k8s-deployment-manager`);
    }
    await this.k8s.deleteDeployment(req.namespace, req.name, current.metadata?.uid, current.metadata?.resourceVersion);
    return {
      generation: current.metadata?.generation ?? null,
      resourceVersion: current.metadata?.resourceVersion ?? null,
    };
  }

  private managed(req: DeploymentRequestEntity, current: DeploymentObject | null): DeploymentObject {
    if (!current) throw new DomainError(ErrorCode.NotFound, `deployment ${target(req)} does not exist`);
    if (!isManaged(current)) {
      throw new DomainError(ErrorCode.Forbidden, `deployment ${target(req)} is not managed by k8s-deployment-manager`);
    }
    return current;
  }

  /** Namespaces seen to exist recently are not asked about again: a create then costs two calls, not three. */
  private async ensureNamespace(namespace: string) {
    const seen = this.knownNamespaces.get(namespace);
    if (seen !== undefined && Date.now() - seen < NAMESPACE_CACHE_MS) return;
    if (!(await this.k8s.namespaceExists(namespace))) {
      if (!this.config.CREATE_NAMESPACES) {
        throw new DomainError(
          ErrorCode.NamespaceNotFound,
          `namespace "${namespace}" does not exist and CREATE_NAMESPACES is off`,
        );
      }
      await this.k8s.createNamespace(namespace);
    }
    this.knownNamespaces.set(namespace, Date.now());
  }
}

const target = (r: DeploymentRequestEntity) => `${r.namespace}/${r.name}`;
const result = (d: { metadata?: { generation?: number; resourceVersion?: string } }): ApplyResult => ({
  generation: d.metadata?.generation ?? null,
  resourceVersion: d.metadata?.resourceVersion ?? null,
});
