import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { KubernetesGateway } from '../kubernetes/kubernetes.gateway.js';
import { buildDeploymentManifest, isManaged, mergeSpec, specFromDeployment } from '../kubernetes/manifest.js';
import { DeploymentRequestEntity, Operation, SpecMode } from '../requests/deployment-request.entity.js';
import type { DeploymentSpec } from '../requests/deployment-spec.js';

export interface ApplyResult {
  generation: number | null;
  resourceVersion: string | null;
}

const MERGE_CONFLICT_RETRIES = 3;
const NAMESPACE_CACHE_MS = 60_000;

/**
 * Carries one request out against Kubernetes. Every operation reads first, so it never
 * touches a Deployment we do not manage, and is idempotent: applying the same request
 * twice (a redelivery) leaves Kubernetes as one application did.
 */
@Injectable()
export class DeploymentApplier {
  private readonly knownNamespaces = new Map<string, number>();

  constructor(
    private readonly config: AppConfig,
    private readonly k8s: KubernetesGateway,
  ) {}

  apply(req: DeploymentRequestEntity): Promise<ApplyResult> {
    switch (req.operation) {
      case Operation.CREATE:
        return this.create(req);
      case Operation.UPDATE:
        return req.specMode === SpecMode.MERGE ? this.patch(req) : this.replace(req);
      case Operation.DELETE:
        return this.remove(req);
    }
  }

  private async create(req: DeploymentRequestEntity): Promise<ApplyResult> {
    const current = await this.k8s.getDeployment(req.namespace, req.name);
    if (current && !isManaged(current)) {
      throw new DomainError(
        ErrorCode.Conflict,
        `deployment ${target(req)} already exists and is not managed by k8s-deployment-manager`,
      );
    }
    if (!current) await this.ensureNamespace(req.namespace);
    const manifest = buildDeploymentManifest(req.namespace, req.name, req.spec as DeploymentSpec, req.requestId);
    try {
      return result(await this.k8s.applyDeployment(manifest));
    } catch (e) {
      // The namespace went away since we last saw it: forget it, and try once more.
      if (!(e instanceof DomainError && e.code === ErrorCode.NamespaceNotFound) || current) throw e;
      this.knownNamespaces.delete(req.namespace);
      await this.ensureNamespace(req.namespace);
      return result(await this.k8s.applyDeployment(manifest));
    }
  }

  private async replace(req: DeploymentRequestEntity): Promise<ApplyResult> {
    await this.readManaged(req);
    return result(
      await this.k8s.applyDeployment(
        buildDeploymentManifest(req.namespace, req.name, req.spec as DeploymentSpec, req.requestId),
      ),
    );
  }

  /** Read, merge the named fields over what Kubernetes has, apply with a resourceVersion precondition. */
  private async patch(req: DeploymentRequestEntity): Promise<ApplyResult> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.readManaged(req);
      const spec = mergeSpec(specFromDeployment(current), req.spec ?? {});
      try {
        return result(
          await this.k8s.applyDeployment(
            buildDeploymentManifest(req.namespace, req.name, spec, req.requestId, current.metadata?.resourceVersion),
          ),
        );
      } catch (e) {
        if (
          !(e instanceof DomainError && e.code === ErrorCode.ResourceVersionConflict) ||
          attempt >= MERGE_CONFLICT_RETRIES
        )
          throw e;
      }
    }
  }

  private async remove(req: DeploymentRequestEntity): Promise<ApplyResult> {
    const current = await this.k8s.getDeployment(req.namespace, req.name);
    if (!current) return { generation: null, resourceVersion: null };
    if (!isManaged(current)) {
      throw new DomainError(ErrorCode.Forbidden, `deployment ${target(req)} is not managed by k8s-deployment-manager`);
    }
    await this.k8s.deleteDeployment(req.namespace, req.name, current.metadata?.uid);
    return {
      generation: current.metadata?.generation ?? null,
      resourceVersion: current.metadata?.resourceVersion ?? null,
    };
  }

  private async readManaged(req: DeploymentRequestEntity) {
    const current = await this.k8s.getDeployment(req.namespace, req.name);
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
