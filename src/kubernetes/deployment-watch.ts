import { KubeConfig, V1Deployment, Watch } from '@kubernetes/client-node';

/** One line of a Deployment watch: a change, or a bookmark that only moves the position. */
export type DeploymentWatchEvent =
  { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: V1Deployment } | { type: 'BOOKMARK'; resourceVersion: string };

/** Why a watch stream ended. */
export type DeploymentWatchEnd =
  /** The server closed the stream (its timeoutSeconds ran out): resume from the last resourceVersion. */
  | { reason: 'closed' }
  /** stop() was called. */
  | { reason: 'stopped' }
  /** 410 Gone: the resourceVersion is older than the server's history; only a relist recovers. */
  | { reason: 'gone'; message: string }
  | { reason: 'error'; error: Error };

export interface DeploymentWatchOptions {
  /** Undefined watches every namespace. */
  namespace?: string;
  labelSelector?: string;
  /** Position to start from: a list's or the last event's resourceVersion. */
  resourceVersion: string;
  /** The server ends the stream after this long; a fresh stream then resumes from the last position. */
  timeoutSeconds: number;
  /** The client aborts a stream that sent nothing (event or bookmark) this long: a dead TCP connection. */
  inactivityTimeoutMs: number;
}

export interface DeploymentWatchHandle {
  stop(): void;
  readonly ended: Promise<DeploymentWatchEnd>;
}

interface StatusObject {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

/**
 * A single watch stream over apps/v1 Deployments, on client-node's Watch (which parses
 * the lines but neither reconnects nor classifies failures). Events are delivered in
 * order, synchronously, as they arrive; `ended` settles once, with the reason.
 */
export function watchDeployments(
  kubeConfig: KubeConfig,
  opts: DeploymentWatchOptions,
  onEvent: (event: DeploymentWatchEvent) => void,
): DeploymentWatchHandle {
  const watch = new Watch(kubeConfig);
  // Watch aborts a stream after 30 s without data by default; quiet streams see a bookmark
  // only about once a minute, so that default would cut healthy streams.
  (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = opts.inactivityTimeoutMs;
  const path = opts.namespace
    ? `/apis/apps/v1/namespaces/${encodeURIComponent(opts.namespace)}/deployments`
    : '/apis/apps/v1/deployments';

  let stopped = false;
  let gone: string | undefined;
  let streamError: Error | undefined;
  let controller: AbortController | undefined;
  let settle!: (end: DeploymentWatchEnd) => void;
  const ended = new Promise<DeploymentWatchEnd>((resolve) => (settle = resolve));

  const abort = () => controller?.abort();
  const handle = (phase: string, obj: unknown) => {
    if (stopped || gone || streamError) return;
    if (phase === 'ERROR') {
      const status = obj as StatusObject;
      if (status?.code === 410) gone = status.message ?? 'resourceVersion too old';
      else
        streamError = new Error(
          `watch error ${status?.code ?? '?'} ${status?.reason ?? ''}: ${status?.message ?? JSON.stringify(obj)}`,
        );
      abort();
      return;
    }
    if (phase === 'BOOKMARK') {
      const rv = (obj as V1Deployment)?.metadata?.resourceVersion;
      if (rv) onEvent({ type: 'BOOKMARK', resourceVersion: rv });
      return;
    }
    if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') {
      onEvent({ type: phase, object: reviveDates(obj as V1Deployment) });
    }
  };

  const done = (err: unknown) => {
    if (stopped) return settle({ reason: 'stopped' });
    if (gone) return settle({ reason: 'gone', message: gone });
    if (streamError) return settle({ reason: 'error', error: streamError });
    const code = (err as { statusCode?: number } | null)?.statusCode;
    if (code === 410) return settle({ reason: 'gone', message: 'HTTP 410 Gone' });
    if (err) return settle({ reason: 'error', error: err instanceof Error ? err : new Error(String(err)) });
    settle({ reason: 'closed' });
  };

  watch
    .watch(
      path,
      {
        resourceVersion: opts.resourceVersion,
        labelSelector: opts.labelSelector,
        allowWatchBookmarks: true,
        timeoutSeconds: opts.timeoutSeconds,
      },
      handle,
      done,
    )
    .then((c) => {
      controller = c;
      if (stopped || gone || streamError) c.abort();
    })
    .catch((e: unknown) => done(e));

  return {
    ended,
    stop() {
      if (stopped) return;
      stopped = true;
      abort();
    },
  };
}

const toDate = (v: unknown): Date | undefined => (v == null ? undefined : v instanceof Date ? v : new Date(String(v)));

/**
 * Watch lines are plain JSON, while list results come through client-node's serializer
 * with Date fields: give the timestamps the mirror reads the same type in both.
 */
function reviveDates(d: V1Deployment): V1Deployment {
  const m = d.metadata;
  if (m) {
    if (m.creationTimestamp) m.creationTimestamp = toDate(m.creationTimestamp);
    if (m.deletionTimestamp) m.deletionTimestamp = toDate(m.deletionTimestamp);
    for (const f of m.managedFields ?? []) if (f.time) f.time = toDate(f.time);
  }
  for (const c of d.status?.conditions ?? []) {
    if (c.lastTransitionTime) c.lastTransitionTime = toDate(c.lastTransitionTime);
    if (c.lastUpdateTime) c.lastUpdateTime = toDate(c.lastUpdateTime);
  }
  return d;
}
