/**
 * bench/watcher (issue 4, "Performance"): the Kubernetes → PostgreSQL mirror at scale.
 *
 * 1. Creates N managed Deployments (replicas 0) straight through kube-apiserver, with
 *    bounded concurrency, and waits for the deployment controller to settle them.
 * 2. Starts the watcher (`node dist/src/main.js`, ROLE=watcher) on a fresh database and
 *    times the initial sync: from spawn until all N rows are in PostgreSQL. Its RSS is
 *    sampled from /proc throughout; the peak is reported.
 * 3. Lag at a fixed change rate: patches one distinct Deployment per tick (an annotation
 *    holding the send time in ms), and polls PostgreSQL for the row carrying it. Lag is
 *    the row's synced_at (written with clock_timestamp() in the upsert) minus the send
 *    time, so it includes the apiserver write, the watch delivery and the commit.
 * 4. Starts the API (ROLE=api) on the same database and times GET /v1/deployments?limit=100
 *    page walks over the N rows, one request at a time.
 * Then deletes the namespace and the database.
 *
 * Tunables (quick-mode defaults in brackets): BENCH_SCALE_N (10000 [200]; the reconciler
 * bench's too), BENCH_WATCH_CREATE_CONCURRENCY (32), BENCH_WATCH_SETTLE_S (120 [0]: how long
 * to wait for the deployment controller), BENCH_WATCH_RATE (50 [20] changes/s),
 * BENCH_WATCH_LAG_SECONDS (20 [2]), BENCH_WATCH_API_REQUESTS (1000 [40], after a tenth as many
 * warm-up), BENCH_KEEP=1 (keep the database), BENCH_SCALE_NAMESPACE (reuse this namespace's
 * Deployments, shared with the reconciler bench; see bench/common.ts scaleNamespace).
 */
import { readFileSync } from 'node:fs';
import { AppsV1Api, PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import pg from 'pg';
import {
  adminAuthorization,
  type AppProcess,
  appEnv,
  createNamespace,
  deleteStreams,
  deploymentNames,
  dropDatabase,
  benchDatabase,
  envFlag,
  envInt,
  envSize,
  existingDeployments,
  isQuick,
  kubeConfig,
  loadNow,
  log,
  mb,
  natsNames,
  openBenchRun,
  progress,
  quantile,
  removeNamespace,
  retrying,
  round1 as ms,
  rssOf,
  scaleN,
  scaleNamespace,
  runPool,
  sleep,
  startApp,
  streamsOf,
  waitForDeploymentController,
} from './common.js';

const T0_ANNOTATION = 'bench.k8sdm.io/t0';
const MANAGED = { 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' };

function manifest(name: string): V1Deployment {
  return {
    metadata: { name, labels: { ...MANAGED, 'app.kubernetes.io/name': name } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': name } },
        spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
      },
    },
  };
}

class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 50);
  }
  sample(): number {
    const v = rssOf(this.pid) ?? 0;
    this.peak = Math.max(this.peak, v);
    return v;
  }
  stop() {
    clearInterval(this.timer);
  }
}

/** Cumulative bucket counts of the watcher's lag histogram, by upper bound in seconds. */
async function lagHistogram(metricsBase: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${metricsBase}/metrics`)).text();
  const out = new Map<number, number>();
  for (const m of text.matchAll(/^dm_watcher_event_lag_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)) {
    out.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  }
  return out;
}

/** p50/p99 of the events observed between two scrapes, as "at most this bucket's bound". */
function histogramQuantiles(before: Map<number, number>, after: Map<number, number>) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  const at = (q: number) => {
    const b = bounds.find((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0) >= q * total);
    return b === undefined ? null : b === Infinity ? 'over the largest bucket' : `<= ${b * 1000}`;
  };
  return { events: total, p50: at(0.5), p99: at(0.99) };
}

export async function run(): Promise<Record<string, unknown>> {
  const n = scaleN();
  const createConcurrency = envInt('BENCH_WATCH_CREATE_CONCURRENCY', 32);
  const rate = Math.max(1, envSize('BENCH_WATCH_RATE', 50, 20));
  const lagSeconds = envSize('BENCH_WATCH_LAG_SECONDS', 20, 2);
  const apiRequests = Math.max(1, envSize('BENCH_WATCH_API_REQUESTS', 1000, 40));
  const apiWarmup = Math.ceil(apiRequests / 10);
  const settleS = envSize('BENCH_WATCH_SETTLE_S', 120, 0);
  const keep = envFlag('BENCH_KEEP');
  const DATABASE = benchDatabase('k8sdm_bench_watcher');

  const bench = await openBenchRun(DATABASE);
  const { stack, id } = bench;
  const { ns, reused } = scaleNamespace(`bench-watch-${id}`);
  const kc = kubeConfig(stack.KUBECONFIG);
  const apps = kc.makeApiClient(AppsV1Api);
  const pool = new pg.Pool({ connectionString: bench.databaseUrl, max: 2 });
  const names = deploymentNames(n);
  const nats = natsNames(`BENCH_${id}_WATCH`);
  const baseEnv = appEnv(bench, ns);
  const figures: Record<string, unknown> = {
    settings: { deployments: n, createConcurrency, settleS, rate, lagSeconds, apiRequests },
  };
  let watcher: AppProcess | undefined;
  let api: AppProcess | undefined;
  let apiBooting: Promise<AppProcess> | undefined;
  const startApi = () =>
    startApp(`watch-api-${id}`, { env: { ...baseEnv, ...nats, ROLE: 'api' }, bootTimeoutMs: 60_000 });
  const count = async (where = 'TRUE') =>
    Number(
      (
        await pool.query(`SELECT count(*) FROM deployments WHERE namespace = $1 AND deleted_at IS NULL AND ${where}`, [
          ns,
        ])
      ).rows[0].count,
    );

  try {
    // 1. The objects, created as fast as the apiserver takes them.
    await createNamespace(kc, ns, reused);
    const existing = reused ? await existingDeployments(apps, ns) : new Map<string, V1Deployment>();
    const missing = names.filter((name) => !existing.has(name));
    log(
      `creating ${missing.length} Deployments in ${ns} (concurrency ${createConcurrency}; ${existing.size} there already)`,
    );
    const t0 = performance.now();
    const tick = progress('created', missing.length);
    await runPool(missing, createConcurrency, (name) =>
      retrying(() => apps.createNamespacedDeployment({ namespace: ns, body: manifest(name) })).then(tick),
    );
    const createS = (performance.now() - t0) / 1000;
    log(`created in ${createS.toFixed(1)} s; waiting for the deployment controller to settle them`);
    // What is left keeps the controller writing status during the measurements below.
    const backlog = await waitForDeploymentController(apps, ns, settleS, 10_000);
    figures.create = {
      namespace: reused ? `${ns} (reused)` : ns,
      created: missing.length,
      seconds: ms(createS),
      perSecond: ms(missing.length / createS),
      notYetObservedByController: backlog,
    };

    // 2. Initial sync, and the watcher's memory.
    const syncLoad = loadNow();
    const spawnedAt = performance.now();
    watcher = await startApp(`watcher-${id}`, { env: { ...baseEnv, ROLE: 'watcher' }, bootTimeoutMs: 60_000 });
    const rss = new RssSampler(watcher.proc.pid!);
    // Done when every row is in and the diff has finished (the watch starts right after).
    const relisted = async () =>
      Number((await pool.query(`SELECT count(*) FROM watcher_state WHERE last_relist_at IS NOT NULL`)).rows[0].count) >
      0;
    let synced = 0;
    while ((synced = await count()) < n || !(await relisted())) {
      if (performance.now() - spawnedAt > 300_000) throw new Error(`initial sync stalled at ${synced}/${n}`);
      await sleep(50);
    }
    const syncMs = performance.now() - spawnedAt;
    const rssAfterSync = rss.sample();
    const peakDuringSync = rss.peak;
    let listLine: RegExpExecArray | null = null;
    for (let i = 0; i < 40 && !listLine; i++, await sleep(50)) {
      listLine = /relist \(initial\)[^\n]*in (\d+) ms/.exec(readFileSync(watcher.logFile, 'utf8'));
    }
    log(`initial sync of ${n}: ${syncMs.toFixed(0)} ms from spawn; RSS peak ${mb(rss.peak)} MB`);
    figures.initialSync = {
      loadavg: { start: syncLoad, end: loadNow() },
      msFromSpawn: ms(syncMs),
      // The watcher's own figure: first list page requested to diff done.
      listAndDiffMs: listLine ? Number(listLine[1]) : null,
      targetMs: 20_000,
    };

    // A quick run boots the API of step 4 now, during the lag: its figures mean nothing anyway.
    apiBooting = isQuick() ? startApi() : undefined;
    apiBooting?.catch(() => undefined); // awaited in step 4, or below

    // 3. Lag at a steady change rate, one distinct Deployment per change.
    await sleep(isQuick() ? 200 : 2000);
    const changes = Math.min(n, rate * lagSeconds);
    const sent = new Map<string, { t0: number; resp?: number }>();
    const lags: number[] = [];
    const lagsFromResponse: number[] = [];
    let errors = 0;
    let since = new Date(Date.now() - 1000);
    let sending = true;
    let sendEnd = 0;
    const poller = (async () => {
      while (sending || lags.length + errors < changes) {
        const rows = (
          await pool.query(
            `SELECT name, spec->'annotations'->>$3 AS t0, synced_at FROM deployments
             WHERE namespace = $1 AND synced_at > $2 AND spec->'annotations' ? $3`,
            [ns, since, T0_ANNOTATION],
          )
        ).rows as { name: string; t0: string; synced_at: Date }[];
        let newest = since.getTime();
        for (const r of rows) {
          newest = Math.max(newest, r.synced_at.getTime());
          const s = sent.get(r.name);
          if (!s || String(s.t0) !== r.t0) continue;
          sent.delete(r.name);
          lags.push(r.synced_at.getTime() - s.t0);
          if (s.resp !== undefined) lagsFromResponse.push(r.synced_at.getTime() - s.resp);
        }
        // One watcher commits in timestamp order; the margin covers a commit still in flight.
        since = new Date(Math.max(since.getTime(), newest - 100));
        if (!sending && performance.now() - sendEnd > 30_000) break;
        await sleep(10);
      }
    })();
    const histogramBefore = await lagHistogram(watcher.url);
    log(`lag: ${changes} changes at ${rate}/s`);
    const lagLoad = loadNow();
    const interval = 1000 / rate;
    const start = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < changes; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const name = names[i];
      const entry: { t0: number; resp?: number } = { t0: Date.now() };
      sent.set(name, entry);
      inflight.push(
        apps
          .patchNamespacedDeployment(
            { namespace: ns, name, body: { metadata: { annotations: { [T0_ANNOTATION]: String(entry.t0) } } } },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          )
          .then(
            () => void (entry.resp = Date.now()),
            () => {
              errors++;
              sent.delete(name);
            },
          ),
      );
    }
    const achievedRate = changes / ((performance.now() - start) / 1000);
    await Promise.all(inflight);
    sending = false;
    sendEnd = performance.now();
    await poller;
    const sorted = [...lags].sort((a, b) => a - b);
    const sortedResp = [...lagsFromResponse].sort((a, b) => a - b);
    figures.lag = {
      loadavg: { start: lagLoad, end: loadNow() },
      changes,
      achievedRatePerS: ms(achievedRate),
      measured: lags.length,
      patchErrors: errors,
      notSeenIn30s: sent.size,
      fromSendMs: {
        p50: ms(quantile(sorted, 0.5)),
        p99: ms(quantile(sorted, 0.99)),
        max: ms(sorted[sorted.length - 1] ?? NaN),
      },
      fromResponseMs: { p50: ms(quantile(sortedResp, 0.5)), p99: ms(quantile(sortedResp, 0.99)) },
      // The watcher's own share (dm_watcher_event_lag_seconds: event arrival to commit), as bucket bounds.
      watcherArrivalToCommitMs: histogramQuantiles(histogramBefore, await lagHistogram(watcher.url)),
      targetP99Ms: 500,
    };
    log(`lag p50 ${quantile(sorted, 0.5)} ms, p99 ${quantile(sorted, 0.99)} ms over ${lags.length} changes`);
    figures.watcherRss = {
      peakMb: mb(rss.peak),
      peakDuringInitialSyncMb: mb(peakDuringSync),
      afterInitialSyncMb: mb(rssAfterSync),
      afterLagMb: mb(rss.sample()),
      targetMb: 180,
    };
    rss.stop();

    // 4. The read API over the N rows.
    api = await (apiBooting ?? startApi());
    const latencies: number[] = [];
    const apiLoad = loadNow();
    let cursor: string | null = null;
    let pages = 0;
    for (let i = 0; i < apiRequests + apiWarmup; i++) {
      const url = `${api.url}/v1/deployments?limit=100${cursor ? `&cursor=${cursor}` : ''}`;
      const t = performance.now();
      const res = await fetch(url, { headers: adminAuthorization() });
      const body = (await res.json()) as { items?: unknown[]; nextCursor: string | null };
      const took = performance.now() - t;
      if (res.status !== 200 || !body.items?.length) throw new Error(`GET ${url} answered ${res.status}`);
      if (i >= apiWarmup) latencies.push(took);
      cursor = body.nextCursor;
      pages++;
    }
    const apiSorted = [...latencies].sort((a, b) => a - b);
    figures.apiList = {
      loadavg: { start: apiLoad, end: loadNow() },
      rows: await count(),
      requests: latencies.length,
      pageWalks: ms(pages / (n / 100)),
      p50Ms: ms(quantile(apiSorted, 0.5)),
      p99Ms: ms(quantile(apiSorted, 0.99)),
      targetMs: 20,
    };
    log(
      `GET /v1/deployments?limit=100: p50 ${quantile(apiSorted, 0.5).toFixed(1)} ms, p99 ${quantile(apiSorted, 0.99).toFixed(1)} ms`,
    );
  } finally {
    api ??= await apiBooting?.catch(() => undefined);
    await api?.stop();
    await watcher?.stop();
    await pool.end();
    if (!reused) await removeNamespace(kc, ns, n, isQuick() ? 0 : 900_000);
    await deleteStreams(stack.NATS_URL, streamsOf(nats)).catch(() => undefined);
    if (!keep) await dropDatabase(stack.DATABASE_URL, DATABASE);
  }
  return figures;
}
