import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { KubernetesGateway } from '../kubernetes/kubernetes.gateway.js';
import { isManaged } from '../kubernetes/manifest.js';
import type { DeploymentRequestEntity } from '../requests/deployment-request.entity.js';
import { NamespacePolicy } from '../domain/namespace-policy.js';
import type { Principal } from '../domain/principal.js';
import { RequestsRepository } from '../requests/requests.repository.js';
import { DeploymentEntity } from './deployment.entity.js';
import { DeploymentsRepository } from './deployments.repository.js';
import type { Consistency, ListDeploymentsQuery } from './dto/deployment-queries.dto.js';
import { entityFromLive } from './mirror-row.mapper.js';
import { scopeIncludes, watchScopes, WatchScope } from '../watcher/watch-scope.js';
import { MirrorFreshness, WatcherStateRepository } from '../watcher/watcher-state.repository.js';

export const RECENT_REQUESTS = 10;

/** Where a read came from: the mirror, or Kubernetes itself (consistency=strong). */
export const SOURCES = ['cache', 'kubernetes'] as const;
export type Source = (typeof SOURCES)[number];

export interface DeploymentPage extends MirrorFreshness {
  items: DeploymentEntity[];
  nextCursor: string | null;
}

export interface DeploymentDetail extends MirrorFreshness {
  source: Source;
  deployment: DeploymentEntity;
  recentRequests: DeploymentRequestEntity[];
}

const isKey = (v: unknown): v is [string, string] =>
  Array.isArray(v) && v.length === 2 && v.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 253);

const neverSeen = (namespace: string, name: string) =>
  new DomainError(ErrorCode.DeploymentNotFound, `deployment ${namespace}/${name} has never been seen`);

const notInKubernetes = (namespace: string, name: string, unmanaged: boolean) =>
  new DomainError(
    ErrorCode.DeploymentNotFound,
    `deployment ${namespace}/${name} is not in Kubernetes${unmanaged ? ' as a managed Deployment' : ''}`,
  );

/** Reads of the mirror for the API, each with how fresh the mirror is; strong reads go to Kubernetes. */
@Injectable()
export class DeploymentsService {
  private readonly scopes: WatchScope[];

  constructor(
    private readonly config: AppConfig,
    private readonly deployments: DeploymentsRepository,
    private readonly state: WatcherStateRepository,
    private readonly requests: RequestsRepository,
    private readonly gateway: KubernetesGateway,
    private readonly policy: NamespacePolicy,
  ) {
    this.scopes = watchScopes(config, policy);
  }

  /** One page of the mirror, only in the caller's scope. */
  async list(q: ListDeploymentsQuery, principal: Principal): Promise<DeploymentPage> {
    const limit = q.limit ?? 50;
    const labels = q.label
      ? Object.fromEntries(q.label.map((t) => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)]))
      : undefined;
    const [rows, freshness] = await Promise.all([
      this.deployments.list({
        namespace: q.namespace,
        labels,
        rollout: q.rollout,
        drifted: q.drifted,
        includeDeleted: q.includeDeleted,
        after: decodeCursor(q.cursor, isKey),
        limit: limit + 1,
        scope: principal.scope,
      }),
      this.freshness(q.namespace),
    ]);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit ? encodeCursor([last.namespace, last.name]) : null, ...freshness };
  }

  /**
   * One Deployment. Outside the caller's scope it is a 404 exactly like an absent one (for
   * each consistency its own absent answer), and nothing is read.
   */
  async get(
    namespace: string,
    name: string,
    principal: Principal,
    consistency: Consistency = 'eventual',
  ): Promise<DeploymentDetail> {
    // MANAGED_NAMESPACES' 403 for strong reads says nothing about the Deployment: it comes first, as for an absent one.
    if (consistency === 'strong') this.policy.assertAllowed(namespace);
    if (!principal.scope.covers(namespace)) {
      throw consistency === 'strong' ? notInKubernetes(namespace, name, false) : neverSeen(namespace, name);
    }
    const [row, recentRequests] = await Promise.all([
      this.deployments.findOne(namespace, name),
      this.requests.recentFor(namespace, name, RECENT_REQUESTS),
    ]);
    if (consistency === 'strong') {
      const live = await this.gateway.getDeployment(namespace, name);
      if (!live || (!this.config.WATCH_ALL_DEPLOYMENTS && !isManaged(live))) {
        throw notInKubernetes(namespace, name, !!live);
      }
      const now = new Date();
      return {
        source: 'kubernetes',
        deployment: entityFromLive(live, row, now),
        recentRequests,
        syncedAt: now,
        lastEventAt: null,
      };
    }
    if (!row) throw neverSeen(namespace, name);
    return { source: 'cache', deployment: row, recentRequests, ...(await this.freshness(namespace)) };
  }

  /** Freshness of the scopes that can hold rows of this namespace (all scopes when none is named). */
  private freshness(namespace?: string): Promise<MirrorFreshness> {
    const scopes = namespace ? this.scopes.filter((s) => scopeIncludes(s, namespace)) : this.scopes;
    return this.state.freshness(scopes.map((s) => s.key));
  }
}
