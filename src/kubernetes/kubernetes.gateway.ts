import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { AgentOptions } from 'node:https';
import { fetch, type Dispatcher } from 'undici';
import {
  ApiException,
  AppsV1Api,
  HttpMethod,
  RequestContext,
  CoreV1Api,
  KubeConfig,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  V1Deployment,
  type ConfigurationOptions,
  type ObservableMiddleware,
} from '@kubernetes/client-node';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { toDomainError } from './kubernetes-error.js';
import { TokenBucket } from './rate-limiter.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/deployment-spec.js';
import {
  DeploymentWatchEvent,
  DeploymentWatchHandle,
  DeploymentWatchOptions,
  watchDeployments,
} from './deployment-watch.js';

export type { V1Deployment as DeploymentObject } from '@kubernetes/client-node';
export type {
  DeploymentWatchEnd,
  DeploymentWatchEvent,
  DeploymentWatchHandle,
  DeploymentWatchOptions,
} from './deployment-watch.js';

/** What a call needs to be abortable: pass `options` to the generated client, or `signal` to fetch. */
interface CallControl {
  signal: AbortSignal;
  options: ConfigurationOptions<ObservableMiddleware>;
}

/** What a dry-run write answered: the object as it would be, and the apiserver's Warning headers. */
export interface DryRunAnswer {
  object: V1Deployment;
  warnings: string[];
}

export interface ListPage {
  items: V1Deployment[];
  resourceVersion: string;
}

/**
 * The only door to the Kubernetes API. Every call is rate limited, timed, and has its
 * failures translated to DomainErrors (kubernetes-error.ts).
 */
@Injectable()
export class KubernetesGateway implements OnApplicationShutdown {
  readonly kubeConfig = new KubeConfig();
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly limiter: TokenBucket;
  private readonly dispatchers: Map<string, { close(): Promise<void> }>;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    if (config.KUBECONFIG) this.kubeConfig.loadFromFile(config.KUBECONFIG);
    else this.kubeConfig.loadFromCluster();
    this.dispatchers = shareDispatchers(this.kubeConfig);
    this.apps = this.kubeConfig.makeApiClient(AppsV1Api);
    this.core = this.kubeConfig.makeApiClient(CoreV1Api);
    this.limiter = new TokenBucket(config.KUBE_QPS, config.KUBE_BURST);
  }

  async onApplicationShutdown() {
    await Promise.all([...this.dispatchers.values()].map((d) => d.close().catch(() => undefined)));
  }

  async getDeployment(namespace: string, name: string): Promise<V1Deployment | null> {
    try {
      return await this.call('get', (c) => this.apps.readNamespacedDeployment({ name, namespace }, c.options));
    } catch (e) {
      if (e instanceof DomainError && (e.code === ErrorCode.NotFound || e.code === ErrorCode.NamespaceNotFound))
        return null;
      throw e;
    }
  }

  /**
   * Server-side apply under our field manager; force takes fields back from out-of-band edits.
   * A metadata.resourceVersion in the manifest is a precondition: a stale apply fails with 409.
   * It does not stop a create, though: give metadata.uid too, and an apply to a name that no
   * longer exists fails with 409 as well instead of recreating it.
   */
  applyDeployment(manifest: V1Deployment): Promise<V1Deployment> {
    return this.serverSideApply('apply', manifest);
  }

  private serverSideApply(verb: string, manifest: V1Deployment): Promise<V1Deployment> {
    const { name, namespace } = manifest.metadata as { name: string; namespace: string };
    return this.call(
      verb,
      (c) =>
        this.apps.patchNamespacedDeployment(
          { name, namespace, body: manifest, fieldManager: this.config.KUBE_FIELD_MANAGER, force: true },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply, c.options),
        ),
      true,
    );
  }

  /**
   * Creates the Deployment only if nothing by that name exists: null when something does. A
   * server-side apply, so our field manager owns the created fields as its "Apply" entry from
   * the start (a POST records an "Update" entry: see adoptFields). Its resourceVersion "1" is a
   * precondition no Deployment can meet, etcd's history starting there before any object's
   * write: on a create the apiserver ignores it, on an existing name it answers 409 (checked on
   * kube-apiserver 1.35: created, then 409 "the object has been modified").
   */
  async createDeployment(manifest: V1Deployment): Promise<V1Deployment | null> {
    try {
      const body = { ...manifest, metadata: { ...manifest.metadata, resourceVersion: '1' } };
      return await this.serverSideApply('create', body);
    } catch (e) {
      if (e instanceof DomainError && e.code === ErrorCode.ResourceVersionConflict) return null;
      throw e;
    }
  }

  /**
   * A create by POST (what versions before issue 13 made) records its fields under our manager
   * as an "Update"; our server-side applies own fields as "Apply", a separate entry. While both
   * own a field, an apply that leaves it out cannot remove it. So turn the create's entry into
   * our apply entry (or drop it when an apply entry exists already). The patch tests the entry,
   * not the resourceVersion, which the controller's status writes change right after a create.
   * Null when there is nothing to adopt.
   */
  async adoptFields(d: V1Deployment): Promise<V1Deployment | null> {
    const manager = this.config.KUBE_FIELD_MANAGER;
    const entries = d.metadata?.managedFields ?? [];
    const own = (op: string) => entries.findIndex((f) => f.manager === manager && f.operation === op && !f.subresource);
    const i = own('Update');
    if (i < 0) return null;
    const patch = [
      { op: 'test', path: `/metadata/managedFields/${i}/manager`, value: manager },
      { op: 'test', path: `/metadata/managedFields/${i}/operation`, value: 'Update' },
      own('Apply') >= 0
        ? { op: 'remove', path: `/metadata/managedFields/${i}` }
        : { op: 'replace', path: `/metadata/managedFields/${i}/operation`, value: 'Apply' },
    ];
    const { name, namespace } = d.metadata as { name: string; namespace: string };
    try {
      return await this.call(
        'patch',
        (c) =>
          this.apps.patchNamespacedDeployment(
            { name, namespace, body: patch, fieldManager: manager },
            setHeaderOptions('Content-Type', PatchStrategy.JsonPatch, c.options),
          ),
        true,
      );
    } catch (e) {
      // A failed `test` (the entries changed since they were read) is answered 422: a stale read.
      if (e instanceof DomainError && e.code === ErrorCode.Invalid)
        throw new DomainError(ErrorCode.ResourceVersionConflict, e.message);
      throw e;
    }
  }

  /** Deletes in the background (the garbage collector removes ReplicaSets and Pods). False when already gone. */
  async deleteDeployment(namespace: string, name: string, uid?: string, resourceVersion?: string): Promise<boolean> {
    const preconditions = uid || resourceVersion ? { uid, resourceVersion } : undefined;
    try {
      await this.call(
        'delete',
        (c) =>
          this.apps.deleteNamespacedDeployment(
            {
              name,
              namespace,
              propagationPolicy: 'Background',
              // With a body the apiserver ignores the query's options: repeat the policy there.
              body: preconditions ? { preconditions, propagationPolicy: 'Background' } : undefined,
            },
            c.options,
          ),
        true,
      );
      return true;
    } catch (e) {
      if (e instanceof DomainError && e.code === ErrorCode.NotFound) return false;
      throw e;
    }
  }

  /**
   * The apply applyDeployment would make, with dryRun=All: validation, admission (quotas,
   * LimitRanges, webhooks) and defaulting answer for real, and nothing is stored.
   */
  async dryRunApply(manifest: V1Deployment): Promise<DryRunAnswer> {
    const { name, namespace } = manifest.metadata as { name: string; namespace: string };
    const warnings: string[] = [];
    const object = await this.call(
      'dry-run-apply',
      (c) =>
        this.apps.patchNamespacedDeployment(
          { name, namespace, body: manifest, fieldManager: this.config.KUBE_FIELD_MANAGER, force: true, dryRun: 'All' },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply, c.options),
        ),
      true,
      warnings,
    );
    return { object, warnings };
  }

  /** The create createDeployment would make, with dryRun=All; null when something by that name exists. */
  async dryRunCreate(manifest: V1Deployment): Promise<DryRunAnswer | null> {
    const namespace = manifest.metadata?.namespace as string;
    const warnings: string[] = [];
    try {
      const object = await this.call(
        'dry-run-create',
        (c) =>
          this.apps.createNamespacedDeployment(
            { namespace, body: manifest, fieldManager: this.config.KUBE_FIELD_MANAGER, dryRun: 'All' },
            c.options,
          ),
        true,
        warnings,
      );
      return { object, warnings };
    } catch (e) {
      if (isAlreadyExists(e)) return null;
      throw e;
    }
  }

  /** The delete deleteDeployment would make (same preconditions), with dryRun=All. */
  async dryRunDelete(namespace: string, name: string, uid?: string, resourceVersion?: string): Promise<string[]> {
    const warnings: string[] = [];
    await this.call(
      'dry-run-delete',
      (c) =>
        this.apps.deleteNamespacedDeployment(
          {
            name,
            namespace,
            // The apiserver reads a DELETE's options from its body when it has one, ignoring the
            // query: dryRun must be in the body, or this deletes for real.
            body: { preconditions: { uid, resourceVersion }, dryRun: ['All'], propagationPolicy: 'Background' },
          },
          c.options,
        ),
      true,
      warnings,
    );
    return warnings;
  }

  async namespaceExists(namespace: string): Promise<boolean> {
    try {
      await this.call('get', (c) => this.core.readNamespace({ name: namespace }, c.options));
      return true;
    } catch (e) {
      if (e instanceof DomainError && (e.code === ErrorCode.NotFound || e.code === ErrorCode.NamespaceNotFound))
        return false;
      throw e;
    }
  }

  async createNamespace(namespace: string): Promise<void> {
    try {
      await this.call(
        'create',
        (c) =>
          this.core.createNamespace(
            {
              body: { metadata: { name: namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } } },
              fieldManager: this.config.KUBE_FIELD_MANAGER,
            },
            c.options,
          ),
        true,
      );
    } catch (e) {
      // Someone else created it first: that is what we wanted.
      if (e instanceof DomainError && e.code === ErrorCode.ResourceVersionConflict) return;
      throw e;
    }
  }

  /**
   * Lists Deployments in pages (limit/continue) so a large cluster is never held twice in
   * memory. `namespace` undefined lists all namespaces. The last page carries the
   * list's resourceVersion, from which a watch can resume.
   *
   * Pages are read as plain JSON rather than through the generated client, which builds a
   * second, typed copy of every page; at 10,000 Deployments that copy alone pushed a
   * reconcile pass past 250 MB. Timestamps therefore stay ISO strings.
   */
  async *listDeployments(opts: {
    namespace?: string;
    labelSelector?: string;
    pageSize?: number;
  }): AsyncGenerator<ListPage> {
    const path = opts.namespace
      ? `/apis/apps/v1/namespaces/${encodeURIComponent(opts.namespace)}/deployments`
      : '/apis/apps/v1/deployments';
    let cont: string | undefined;
    do {
      const page = await this.call('list', (c) =>
        this.getJson<{ items: V1Deployment[]; metadata?: { continue?: string; resourceVersion?: string } }>(
          path,
          { labelSelector: opts.labelSelector, limit: opts.pageSize ?? 500, continue: cont },
          c.signal,
        ),
      );
      cont = page.metadata?.continue || undefined;
      yield { items: page.items, resourceVersion: page.metadata?.resourceVersion ?? '' };
    } while (cont);
  }

  /** A GET with the kubeconfig's credentials, answered as parsed JSON; non-200 becomes an ApiException. */
  private async getJson<T>(
    path: string,
    query: Record<string, string | number | undefined>,
    signal: AbortSignal,
  ): Promise<T> {
    const server = this.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new DomainError(ErrorCode.KubernetesError, 'kubeconfig has no current cluster');
    const url = new URL(server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod.GET);
    await this.kubeConfig.applySecurityAuthentication(ctx);
    const res = await fetch(url, {
      headers: ctx.getHeaders(),
      dispatcher: ctx.getDispatcher() as Dispatcher | undefined,
      signal,
    });
    const body = await res.text();
    if (res.status !== 200) throw new ApiException(res.status, `HTTP ${res.status}`, body, {});
    return JSON.parse(body) as T;
  }

  /**
   * Opens one watch stream over Deployments (see deployment-watch.ts). It takes a token
   * from the rate limiter like any call, so a reconnect loop cannot flood the apiserver.
   */
  async watchDeployments(
    opts: DeploymentWatchOptions,
    onEvent: (e: DeploymentWatchEvent) => void,
  ): Promise<DeploymentWatchHandle> {
    await this.limiter.take();
    return watchDeployments(this.kubeConfig, opts, onEvent);
  }

  /**
   * One apiserver call, rate limited and timed. At the timeout the HTTP request is aborted,
   * which closes its connection, so a call we gave up on cannot still land later. Writes also
   * carry the apiserver's own `timeout`, a little shorter, so the server gives up as well.
   */
  private async call<T>(
    verb: string,
    fn: (control: CallControl) => Promise<T>,
    write = false,
    warnings?: string[],
  ): Promise<T> {
    await this.limiter.take();
    const end = this.metrics.kubernetesCallSeconds.startTimer({ verb });
    let status: number | undefined; // the apiserver's answer, seen by the middleware
    const timeoutMs = this.config.KUBE_REQUEST_TIMEOUT_MS;
    const timedOut = new DomainError(
      ErrorCode.KubernetesUnavailable,
      `Kubernetes ${verb} timed out after ${timeoutMs} ms`,
    );
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // Also settles a call still stuck before its request went out (credentials, a slow exec plugin).
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort(timedOut);
        reject(timedOut);
      }, timeoutMs);
    });
    const serverTimeout = write ? `${Math.max(1, Math.floor(timeoutMs / 1000) - 1)}s` : undefined;
    const middleware: ObservableMiddleware = {
      pre: (ctx) => {
        ctx.setSignal(abort.signal);
        if (serverTimeout) ctx.setQueryParam('timeout', serverTimeout);
        return new Observable(Promise.resolve(ctx));
      },
      post: (res) => {
        status = res.httpStatusCode;
        if (warnings) warnings.push(...parseWarnings(res.headers['warning']));
        return new Observable(Promise.resolve(res));
      },
    };
    const control: CallControl = {
      signal: abort.signal,
      options: { middleware: [middleware], middlewareMergeStrategy: 'append' },
    };
    let code = '200'; // calls without the middleware (getJson, the cluster uid read) succeed only on 200
    try {
      const result = await Promise.race([fn(control), timeout]);
      if (status) code = String(status);
      return result;
    } catch (e) {
      code = callErrorCode(e, abort.signal.aborted);
      this.metrics.kubernetesCallErrors.inc({ verb, code });
      throw abort.signal.aborted ? timedOut : toDomainError(e);
    } finally {
      clearTimeout(timer);
      end({ code });
    }
  }

  /**
   * The uid of the kube-system namespace: it lives as long as the cluster, so a different
   * value means a different cluster (or a rebuilt one), whose resourceVersions cannot be
   * compared with the ones the mirror holds.
   */
  async clusterUid(): Promise<string> {
    const ns = await this.call('get', () => this.core.readNamespace({ name: 'kube-system' }));
    if (!ns.metadata?.uid) throw new DomainError(ErrorCode.KubernetesError, 'the kube-system namespace has no uid');
    return ns.metadata.uid;
  }
}

/**
 * client-node 2.0 builds a new undici Agent, so a new TCP connection and TLS handshake,
 * for every call. Measured on the worker that was most of its CPU per request and as much
 * again on kube-apiserver. Reuse one Agent per TLS identity (credentials can rotate).
 */
function shareDispatchers(kc: KubeConfig): Map<string, { close(): Promise<void> }> {
  const target = kc as unknown as {
    createDispatcher(cluster: unknown, opts: AgentOptions): { close(): Promise<void> } | undefined;
  };
  const create = target.createDispatcher.bind(kc);
  const shared = new Map<string, { close(): Promise<void> }>();
  target.createDispatcher = (cluster, opts) => {
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          String(opts.ca ?? ''),
          String(opts.cert ?? ''),
          String(opts.key ?? ''),
          opts.rejectUnauthorized,
          opts.servername,
        ]),
      )
      .digest('hex');
    let dispatcher = shared.get(key);
    if (!dispatcher) {
      dispatcher = create(cluster, opts);
      if (!dispatcher) return undefined;
      shared.set(key, dispatcher);
    }
    return dispatcher;
  };
  return shared;
}

const isAlreadyExists = (e: unknown) =>
  e instanceof DomainError && e.code === ErrorCode.ResourceVersionConflict && e.details?.reason === 'AlreadyExists';

/**
 * The texts of the apiserver's `Warning: 299 - "text"` headers (RFC 7234 form; fetch joins
 * repeated headers with ", ").
 */
export function parseWarnings(header: string | undefined): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const m of header.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) out.push(m[1].replace(/\\(.)/g, '$1'));
  return out;
}

/** The metrics' code of a failed call: the HTTP status when the apiserver answered, else timeout or network. */
function callErrorCode(e: unknown, timedOut: boolean): string {
  if (timedOut) return 'timeout';
  if (e instanceof ApiException) return String(e.code);
  if (e instanceof DomainError) return e.code;
  return 'network';
}
