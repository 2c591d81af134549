/**
 * bench/available (issue 13): request → rollout AVAILABLE, beside direct apply → AVAILABLE.
 *
 * N creates at a modest concurrency, each slot sending one create and waiting for its rollout
 * before the next, through two paths:
 * - pipeline: POST /v1/deployments to an API (ROLE=api), applied by one worker (ROLE=worker);
 * - direct: the server-side apply the worker makes, sent straight to kube-apiserver.
 * AVAILABLE is observed the same way for both: one Kubernetes watch per namespace in this
 * process, judged by the service's own rule (src/deployments/rollout-state.ts, as `kubectl
 * rollout status` decides). Latency is from just before the send to the watch event that first
 * shows the Deployment AVAILABLE. KWOK makes the pods Running and Ready without a kubelet.
 * Rounds alternate which path goes first.
 *
 * Tunables (quick-mode defaults in brackets): BENCH_AVAILABLE_N (200 [8]),
 * BENCH_AVAILABLE_CONCURRENCY (8 [4]), BENCH_AVAILABLE_REPLICAS (1), BENCH_AVAILABLE_ROUNDS
 * (2 [1]), BENCH_AVAILABLE_TIMEOUT_S (120, per Deployment), BENCH_WORKER_ENV (as bench/intake),
 * BENCH_KEEP=1 (keep the database).
 */
import { randomUUID } from 'node:crypto';
import { AppsV1Api, PatchStrategy, setHeaderOptions, type V1Deployment, Watch } from '@kubernetes/client-node';
import { buildDeploymentManifest } from '../src/kubernetes/manifest.js';
import { rolloutState } from '../src/deployments/rollout-state.js';
import { RolloutState } from '../src/deployments/deployment.entity.js';
import {
  adminAuthorization,
  type AppProcess,
  appEnv,
  benchDatabase,
  createNamespace,
  deleteNamespaces,
  deleteStreams,
  dropDatabase,
  envFlag,
  envInt,
  envSize,
  isQuick,
  kubeConfig,
  log,
  natsNames,
  openBenchRun,
  quantile,
  round1,
  runPool,
  spread,
  startApp,
  streamsOf,
  withLoad,
  grid,
} from './common.js';

const FIELD_MANAGER = 'k8s-deployment-manager';
const IMAGE = 'registry.k8s.io/pause:3.10';

/** Resolves, per Deployment name, at the first watch event showing it AVAILABLE (performance.now()). */
class AvailableWatch {
  private readonly seen = new Map<string, number>();
  private readonly waiting = new Map<string, (t: number) => void>();
  private abort?: AbortController;
  private failure?: unknown;

  constructor(
    private readonly kc: ReturnType<typeof kubeConfig>,
    private readonly namespace: string,
  ) {}

  async start(): Promise<void> {
    this.abort = await new Watch(this.kc).watch(
      `/apis/apps/v1/namespaces/${this.namespace}/deployments`,
      {},
      (type: string, d: V1Deployment) => {
        const name = d.metadata?.name;
        if (!name || type === 'DELETED' || this.seen.has(name)) return;
        if (rolloutState(d) !== RolloutState.AVAILABLE) return;
        const t = performance.now();
        this.seen.set(name, t);
        this.waiting.get(name)?.(t);
      },
      (err: unknown) => {
        // A watch that ends early would leave every waiter to its timeout: say why.
        if (err && (err as Error).name !== 'AbortError') this.failure = err;
      },
    );
  }

  /** When `name` became AVAILABLE; rejects after timeoutMs. */
  when(name: string, timeoutMs: number): Promise<number> {
    const t = this.seen.get(name);
    if (t !== undefined) return Promise.resolve(t);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(name);
        const why = this.failure ? ` (the watch ended: ${String(this.failure)})` : '';
        reject(new Error(`${this.namespace}/${name} not AVAILABLE after ${timeoutMs} ms${why}`));
      }, timeoutMs);
      this.waiting.set(name, (at) => {
        clearTimeout(timer);
        this.waiting.delete(name);
        resolve(at);
      });
    });
  }

  stop() {
    this.abort?.abort();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const n = Math.max(1, envSize('BENCH_AVAILABLE_N', 200, 8));
  const concurrency = Math.max(1, envSize('BENCH_AVAILABLE_CONCURRENCY', 8, 4));
  const replicas = envInt('BENCH_AVAILABLE_REPLICAS', 1);
  const rounds = Math.max(1, envSize('BENCH_AVAILABLE_ROUNDS', 2, 1));
  const timeoutMs = envInt('BENCH_AVAILABLE_TIMEOUT_S', 120) * 1000;
  const keep = envFlag('BENCH_KEEP');
  const workerEnv = Object.fromEntries(
    (process.env.BENCH_WORKER_ENV ?? 'KUBE_QPS=1000,KUBE_BURST=1000')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
  );
  const DATABASE = benchDatabase('k8sdm_bench_available');

  const bench = await openBenchRun(DATABASE);
  const { stack, id } = bench;
  const nats = natsNames(`BENCH_${id}_AVAIL`);
  const env = { ...appEnv(bench, 'bench-*'), ...nats };
  const kc = kubeConfig(stack.KUBECONFIG);
  const apps = kc.makeApiClient(AppsV1Api);
  const namespaces: string[] = [];
  const latencies = { pipeline: [] as number[][], direct: [] as number[][] };
  const loads: Record<string, unknown>[] = [];
  let api: AppProcess | undefined;
  let worker: AppProcess | undefined;

  /** One path's round: creates in a fresh namespace, each slot waiting for its rollout. */
  const measure = async (path: 'pipeline' | 'direct', round: number) => {
    const namespace = `bench-avail-${path === 'pipeline' ? 'pipe' : 'direct'}-${id}-${round}`;
    namespaces.push(namespace);
    await createNamespace(kc, namespace);
    const watch = new AvailableWatch(kc, namespace);
    await watch.start();
    const names = Array.from({ length: n }, (_, i) => `a-${i}`);
    const each: number[] = [];
    try {
      await runPool(names, concurrency, async (name) => {
        const t0 = performance.now();
        if (path === 'pipeline') {
          const res = await fetch(`${api!.url}/v1/deployments`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...adminAuthorization() },
            body: JSON.stringify({ namespace, name, image: IMAGE, replicas }),
          });
          await res.arrayBuffer();
          if (res.status !== 202) throw new Error(`POST ${namespace}/${name}: ${res.status}`);
        } else {
          await apps.patchNamespacedDeployment(
            {
              name,
              namespace,
              body: buildDeploymentManifest(namespace, name, { image: IMAGE, replicas }, randomUUID()),
              fieldManager: FIELD_MANAGER,
              force: true,
            },
            setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
          );
        }
        each.push((await watch.when(name, timeoutMs)) - t0);
      });
    } finally {
      watch.stop();
    }
    const sorted = [...each].sort((a, b) => a - b);
    log(
      `round ${round + 1} ${path}: ${n} creates → AVAILABLE, p50 ${quantile(sorted, 0.5).toFixed(0)} ms, p99 ${quantile(sorted, 0.99).toFixed(0)} ms`,
    );
    latencies[path].push(sorted);
    return { p50Ms: round1(quantile(sorted, 0.5)), p99Ms: round1(quantile(sorted, 0.99)) };
  };

  try {
    // Booted together; boots are not measured.
    const [a, w] = await Promise.allSettled([
      startApp(`available-api-${id}`, { env: { ...env, ROLE: 'api' } }),
      startApp(`available-worker-${id}`, {
        env: {
          ...env,
          ROLE: 'worker',
          WORKER_CONCURRENCY: String(concurrency),
          DATABASE_POOL_SIZE: String(2 * concurrency + 2),
          ...workerEnv,
        },
      }),
    ]);
    if (a.status === 'fulfilled') api = a.value;
    if (w.status === 'fulfilled') worker = w.value;
    if (a.status === 'rejected') throw a.reason;
    if (w.status === 'rejected') throw w.reason;
    for (let r = 0; r < rounds; r++) {
      const order: ('pipeline' | 'direct')[] = r % 2 === 0 ? ['direct', 'pipeline'] : ['pipeline', 'direct'];
      for (const path of order) loads.push({ round: r + 1, path, ...(await withLoad(() => measure(path, r))) });
    }
  } finally {
    await worker?.stop();
    await api?.stop();
    const left = await deleteNamespaces(kc, namespaces, isQuick() ? 0 : 180_000);
    if (left.length && !isQuick()) log(`namespaces still terminating: ${left.join(', ')}`);
    await deleteStreams(stack.NATS_URL, streamsOf(nats)).catch(() => undefined);
    if (!keep) await dropDatabase(stack.DATABASE_URL, DATABASE);
  }

  const summary = (runs: number[][]) => ({
    p50Ms: spread(runs.map((s) => quantile(s, 0.5))),
    p99Ms: spread(runs.map((s) => quantile(s, 0.99))),
    maxMs: spread(runs.map((s) => s[s.length - 1])),
  });
  const pipeline = summary(latencies.pipeline);
  const direct = summary(latencies.direct);
  const gaps = latencies.pipeline.map((s, i) => quantile(s, 0.5) - quantile(latencies.direct[i], 0.5));
  return {
    settings: { creates: n, concurrency, replicas, rounds, timeoutS: timeoutMs / 1000 },
    requestToAvailable: pipeline,
    directApplyToAvailable: direct,
    p50GapMs: { gap: spread(gaps), target: '<= 200', met: spread(gaps).median <= 200 },
    rounds: loads,
  };
}

export function summary(figures: Record<string, unknown>): string {
  type Side = { p50Ms: { median: number }; p99Ms: { median: number } };
  const f = figures as { requestToAvailable: Side; directApplyToAvailable: Side };
  return grid(
    'create → rollout AVAILABLE (seen by a Kubernetes watch; medians over rounds)',
    ['path', 'p50 ms', 'p99 ms'],
    [
      ['request (API → worker)', f.requestToAvailable.p50Ms.median, f.requestToAvailable.p99Ms.median],
      ['direct apply', f.directApplyToAvailable.p50Ms.median, f.directApplyToAvailable.p99Ms.median],
    ],
  );
}
