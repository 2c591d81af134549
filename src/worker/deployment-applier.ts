import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DeploymentsRepository } from '../deployments/deployments.repository.js';
import type { MirrorSpec } from '../deployments/mirror-row.mapper.js';
import { compareResourceVersions, isWellFormedResourceVersion } from '../deployments/resource-version.js';
import type { DeploymentSpec } from '../domain/deployment-spec.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { KubernetesGateway, type DeploymentObject } from '../kubernetes/kubernetes.gateway.js';
import { envReferencesOf, isManaged, specFromDeployment } from '../kubernetes/manifest.js';
import { DeploymentRequestEntity, Operation } from '../requests/deployment-request.entity.js';
import {
  namespaceMissing,
  planKnownWrite,
  planWrite,
  type KnownDeployment,
  type KnownWritePlan,
  type WritePlan,
} from './write-plan.js';

export interface ApplyResult {
  generation: number | null;
  resourceVersion: string | null;
}

/** Writes that lose a resourceVersion race are re-read and tried again this many times in one attempt. */
export const CONFLICT_RETRIES = 3;
/** How many Deployments' last written versions one worker process remembers. */
export const REMEMBERED_WRITES = 1024;

/**
 * Carries one request out against Kubernetes in one write when it can, and never touches a
 * Deployment we do not manage.
 *
 * - CREATE: a create that fails if anything by that name exists (a server-side apply that can
 *   only create, see KubernetesGateway.createDeployment).
 * - UPDATE, DELETE: a write conditioned on the uid and resourceVersion of the newest version we
 *   know to be ours, from the mirror (the watcher's row) or from our own last write's answer.
 *   It lands only on exactly that object, unchanged since.
 *
 * When that write is refused (409: it exists, changed, was replaced or is gone), or nothing is
 * known, it reads and decides (planWrite), and writes on the read's uid and resourceVersion.
 * So a write that lands late (its call timed out, it was retried, newer requests succeeded) is
 * refused instead of overwriting newer state, and a redelivery leaves Kubernetes as one
 * application did.
 */
@Injectable()
export class DeploymentApplier {
  /** What our own writes answered, by namespace/name, least recently written first. */
  private readonly written = new Map<string, KnownDeployment>();

  constructor(
    private readonly config: AppConfig,
    private readonly k8s: KubernetesGateway,
    private readonly deployments: DeploymentsRepository,
  ) {}

  /**
   * `fence` runs before each write, after whatever it depends on was read, and throws once the
   * caller no longer holds the deployment's lock. Another worker can then write only after our
   * check, so our conditional write is refused rather than landing over it.
   */
  async apply(req: DeploymentRequestEntity, fence: () => Promise<void> = async () => undefined): Promise<ApplyResult> {
    const direct = await this.directWrite(req);
    if (direct) {
      await fence();
      try {
        return await this.write(req, direct, fence);
      } catch (e) {
        // What we knew is out of date (it exists, changed, was replaced, or is gone): read and decide.
        if (!isStale(e, direct)) throw e;
        this.written.delete(key(req));
      }
    }
    return this.readAndWrite(req, fence);
  }

  /** The write made without reading Kubernetes first; null when only a read can decide. */
  private async directWrite(req: DeploymentRequestEntity): Promise<WritePlan | KnownWritePlan | null> {
    if (req.operation === Operation.CREATE) return planWrite(req, null);
    const known = await this.known(req);
    return known && planKnownWrite(req, known);
  }

  /**
   * The newest version of the Deployment we know to be ours: the mirror's row or our own last
   * write's answer, whichever is newer. None when the newer is not ours or is deleted.
   */
  private async known(req: DeploymentRequestEntity): Promise<KnownDeployment | null> {
    const mine = this.written.get(key(req)) ?? null;
    const row = await this.deployments.writeBasis(req.namespace, req.name);
    if (!row || !isWellFormedResourceVersion(row.resourceVersion)) return mine;
    if (mine && compareResourceVersions(mine.resourceVersion, row.resourceVersion) >= 0) return mine;
    if (!row.managed || row.deleted) return null;
    return {
      uid: row.uid,
      resourceVersion: row.resourceVersion,
      generation: row.generation,
      spec: mergeBase(row.spec),
    };
  }

  /** Reads, decides, and writes on what it read; a write refused with 409 reads again, up to CONFLICT_RETRIES. */
  private async readAndWrite(req: DeploymentRequestEntity, fence: () => Promise<void>): Promise<ApplyResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        let current = await this.k8s.getDeployment(req.namespace, req.name);
        await fence();
        // Created by a POST before issue 13: its fields must be our apply's, or a later apply could not drop them.
        if (current && isManaged(current) && req.operation !== Operation.DELETE)
          current = (await this.k8s.adoptFields(current)) ?? current;
        return await this.write(req, planWrite(req, current), fence);
      } catch (e) {
        // A 409: it changed since the read (a status update, our own earlier call landing late): read and decide again.
        if (!(e instanceof DomainError && e.code === ErrorCode.ResourceVersionConflict) || attempt >= CONFLICT_RETRIES)
          throw e;
      }
    }
  }

  private async write(
    req: DeploymentRequestEntity,
    plan: WritePlan | KnownWritePlan,
    fence: () => Promise<void>,
  ): Promise<ApplyResult> {
    switch (plan.kind) {
      case 'create':
        return this.create(req, plan.manifest, fence);
      case 'apply':
        return this.remember(req, await this.k8s.applyDeployment(plan.manifest));
      case 'delete': {
        const { uid, resourceVersion, generation } = 'known' in plan ? plan.known : targetOf(plan.live);
        this.written.delete(key(req));
        await this.k8s.deleteDeployment(req.namespace, req.name, uid, resourceVersion);
        return { generation: generation ?? null, resourceVersion: resourceVersion ?? null };
      }
      case 'none':
        return { generation: null, resourceVersion: null };
    }
  }

  /** A create that fails if anything by that name exists, making the namespace first when it is missing. */
  private async create(
    req: DeploymentRequestEntity,
    manifest: DeploymentObject,
    fence: () => Promise<void>,
  ): Promise<ApplyResult> {
    let created: DeploymentObject | null;
    try {
      created = await this.k8s.createDeployment(manifest);
    } catch (e) {
      if (!(e instanceof DomainError && e.code === ErrorCode.NamespaceNotFound)) throw e;
      if (!this.config.CREATE_NAMESPACES) throw namespaceMissing(req.namespace);
      await this.k8s.createNamespace(req.namespace);
      await fence();
      created = await this.k8s.createDeployment(manifest);
    }
    if (!created) {
      throw new DomainError(
        ErrorCode.ResourceVersionConflict,
        `deployment ${req.namespace}/${req.name} already exists`,
      );
    }
    return this.remember(req, created);
  }

  /** Keeps what our write answered as the basis of the next one, and returns the request's result. */
  private remember(req: DeploymentRequestEntity, d: DeploymentObject): ApplyResult {
    const { uid, resourceVersion, generation } = d.metadata ?? {};
    const k = key(req);
    this.written.delete(k);
    if (uid && isWellFormedResourceVersion(resourceVersion) && isManaged(d)) {
      // A spec with env references cannot be merged over without their valueFrom: a MERGE reads then.
      const spec = envReferencesOf(d).length ? null : specFromDeployment(d);
      this.written.set(k, { uid, resourceVersion, generation: generation ?? null, spec });
      if (this.written.size > REMEMBERED_WRITES) this.written.delete(this.written.keys().next().value as string);
    }
    return { generation: generation ?? null, resourceVersion: resourceVersion ?? null };
  }
}

const key = (req: DeploymentRequestEntity) => `${req.namespace}/${req.name}`;

const targetOf = (d: DeploymentObject) => ({
  uid: d.metadata?.uid,
  resourceVersion: d.metadata?.resourceVersion,
  generation: d.metadata?.generation,
});

/**
 * Whether a direct write failed only because what we knew is out of date: 409, or a known
 * object's namespace that is gone. A create handles a missing namespace itself.
 */
function isStale(e: unknown, plan: WritePlan | KnownWritePlan): boolean {
  if (!(e instanceof DomainError)) return false;
  if (e.code === ErrorCode.ResourceVersionConflict) return true;
  return plan.kind !== 'create' && (e.code === ErrorCode.NotFound || e.code === ErrorCode.NamespaceNotFound);
}

/** The mirror's spec as a MERGE's base, unless env comes from references, whose valueFrom the mirror does not keep. */
function mergeBase(spec: MirrorSpec | null): DeploymentSpec | null {
  if (!spec || spec.envReferences || spec.envNames) return null;
  return spec;
}
