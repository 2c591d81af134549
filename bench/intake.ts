/**
 * bench/intake (issues 3 and 13): how intake and the pipeline cost grow with load, each
 * against a reference measured in the same run on the same machine.
 *
 * 1. Intake sweep, at each of BENCH_CONNECTIONS (1,8,32,128): POST /v1/deployments under
 *    autocannon (req/s, p50, p99) beside a bare script doing the same work with the same
 *    drivers (pg INSERT of an equivalent row, JetStream publish with msgID, UPDATE to QUEUED):
 *    the ratio intake/bare of req/s and of p99, and the API process's CPU per accepted request.
 *    One API (ROLE=api) runs as a child process on its own database and JetStream stream; no
 *    worker runs, so messages pile up in the stream (deleted afterwards). Intake and bare rounds
 *    alternate so drift hits both.
 * 2. Pipeline sweep, at each of BENCH_WORKERS (1,2,4) worker processes: N CREATE requests
 *    through the whole pipeline (API + workers) until all are SUCCESS, versus N server-side
 *    applies made directly with @kubernetes/client-node, both at BENCH_PIPELINE_CONCURRENCY
 *    (32): the workers share it (WORKER_CONCURRENCY = ceil(concurrency / workers)), so the
 *    Kubernetes writes in flight are the same on both sides. Throughput of each, the ratio, and
 *    Kubernetes calls per request (from the workers' dm_kubernetes_call_seconds_count deltas).
 *
 * Tunables (environment; quick-mode defaults in brackets): BENCH_CONNECTIONS (1,8,32,128 [1,8]),
 * BENCH_DURATION_S (10 [1]), BENCH_WARMUP_S (3 [0]), BENCH_ROUNDS (3 [1], intake/bare pairs per
 * level), BENCH_PIPELINE_REQUESTS (1000 [20]), BENCH_PIPELINE_CONCURRENCY (32 [8]),
 * BENCH_PIPELINE_ROUNDS (2 [1]), BENCH_PIPELINE_WARMUP (100 [0] creates and as many direct
 * applies first, per worker count, not counted), BENCH_WORKERS (1,2,4 [2]), BENCH_WORKER_ENV
 * (extra env for the workers; default "KUBE_QPS=1000,KUBE_BURST=1000"), BENCH_API_ENV (same for
 * the API), BENCH_WORKER_NODE_OPTIONS (NODE_OPTIONS for the workers only, e.g. "--import=./hook.mjs"
 * to load a query counter), BENCH_ONLY (intake|pipeline), BENCH_PROFILE=1 (run the app under --cpu-prof and
 * summarise the profiles), BENCH_DATABASE (k8sdm_bench, dropped and created afresh),
 * BENCH_KEEP=1 (keep it for inspection).
 */
import { createHash, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import autocannon from 'autocannon';
import { AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { headers as natsHeaders, connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import pg from 'pg';
import { buildDeploymentManifest } from '../src/kubernetes/manifest.js';
import {
  adminAuthorization,
  type AppProcess,
  appEnv,
  backendPids,
  type CpuSnapshot,
  type CpuUse,
  cpuPerUnit,
  cpuSnapshot,
  createNamespace,
  deleteNamespaces,
  deleteStreams,
  dropDatabase,
  benchDatabase,
  envFlag,
  envIntList,
  envSize,
  isQuick,
  kubeConfig,
  log,
  monotonicUs,
  natsNames,
  openBenchRun,
  pidCpuMs,
  profilesIn,
  quantile,
  resultsDir,
  runFor,
  runPool,
  sleep,
  spread,
  startApp,
  streamsOf,
  summarizeCpuProfile,
  type StackEnv,
  withLoad,
  fmt,
  grid,
} from './common.js';

const DATABASE = process.env.BENCH_DATABASE || benchDatabase('k8sdm_bench');
/** The API's DATABASE_POOL_SIZE default: the bare script gets the same pool. */
const APP_POOL_SIZE = 10;
const FIELD_MANAGER = 'k8s-deployment-manager';
/** Same header name as REQUEST_ID_HEADER in src/messaging/jetstream-topology.ts. */
const REQUEST_ID_HEADER = 'Dm-Request-Id';

interface Settings {
  connections: number[];
  durationS: number;
  warmupS: number;
  rounds: number;
  pipelineRequests: number;
  pipelineConcurrency: number;
  pipelineRounds: number;
  pipelineWarmup: number;
  workerProcesses: number[];
  workerEnv: Record<string, string>;
  apiEnv: Record<string, string>;
  only?: 'intake' | 'pipeline';
  profile: boolean;
  keep: boolean;
  /** How long to wait for a round's namespace to go before the next round (none in quick runs). */
  namespaceWaitMs: number;
}

function parseEnvList(v: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new Error(`expected KEY=value, got "${pair}"`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

function settings(): Settings {
  const only = process.env.BENCH_ONLY;
  if (only && only !== 'intake' && only !== 'pipeline') throw new Error('BENCH_ONLY must be intake or pipeline');
  return {
    connections: envIntList('BENCH_CONNECTIONS', [1, 8, 32, 128], [1, 8]),
    durationS: envSize('BENCH_DURATION_S', 10, 1),
    warmupS: envSize('BENCH_WARMUP_S', 3, 0),
    rounds: Math.max(1, envSize('BENCH_ROUNDS', 3, 1)),
    pipelineRequests: Math.max(1, envSize('BENCH_PIPELINE_REQUESTS', 1000, 20)),
    pipelineConcurrency: Math.max(1, envSize('BENCH_PIPELINE_CONCURRENCY', 32, 8)),
    pipelineRounds: Math.max(1, envSize('BENCH_PIPELINE_ROUNDS', 2, 1)),
    pipelineWarmup: envSize('BENCH_PIPELINE_WARMUP', 100, 0),
    workerProcesses: envIntList('BENCH_WORKERS', [1, 2, 4], [2]),
    // The direct applies it is compared with are not rate limited, so neither is the worker by default.
    workerEnv: {
      ...parseEnvList(process.env.BENCH_WORKER_ENV ?? 'KUBE_QPS=1000,KUBE_BURST=1000'),
      // Space-separated node flags, so it cannot go through BENCH_WORKER_ENV's comma list.
      ...(process.env.BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS } : {}),
    },
    apiEnv: parseEnvList(process.env.BENCH_API_ENV),
    only: only as Settings['only'],
    profile: envFlag('BENCH_PROFILE'),
    keep: envFlag('BENCH_KEEP'),
    namespaceWaitMs: isQuick() ? 0 : 180_000,
  };
}

/** A create body like a real client's: every optional field but annotations. */
function intakeBody(namespace: string, name: string) {
  return {
    namespace,
    name,
    image: 'registry.example.com/team/web:1.27.3',
    replicas: 2,
    containerPort: 8080,
    env: { LOG_LEVEL: 'info', FEATURE_X: 'on' },
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    labels: { team: 'bench', tier: 'web' },
  };
}

interface Ctx {
  s: Settings;
  stack: StackEnv;
  databaseUrl: string;
  baseEnv: Record<string, string>;
  id: string;
  profileDir?: string;
  /** Measured windows per app process, for reading its CPU profile. */
  windows: Map<string, [number, number][]>;
}

function markWindow(ctx: Ctx, apps: AppProcess[], startUs: number) {
  const end = monotonicUs();
  for (const a of apps) ctx.windows.set(a.name, [...(ctx.windows.get(a.name) ?? []), [startUs, end]]);
}

export async function run(): Promise<Record<string, unknown>> {
  const s = settings();
  const bench = await openBenchRun(DATABASE);
  const { stack, id, databaseUrl } = bench;
  log(
    `database ${DATABASE} migrated; run id ${id}; connections ${s.connections.join(',')}; workers ${s.workerProcesses.join(',')}`,
  );
  const profileDir = s.profile ? join(resultsDir(), 'profiles', id) : undefined;
  const baseEnv = appEnv(bench, 'bench-*');

  const figures: Record<string, unknown> = {
    settings: {
      connections: s.connections,
      durationS: s.durationS,
      warmupS: s.warmupS,
      rounds: s.rounds,
      pipelineRequests: s.pipelineRequests,
      pipelineConcurrency: s.pipelineConcurrency,
      pipelineRounds: s.pipelineRounds,
      pipelineWarmup: s.pipelineWarmup,
      workerProcesses: s.workerProcesses,
      workerEnv:
        Object.entries(s.workerEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '(defaults)',
      apiEnv:
        Object.entries(s.apiEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '(defaults)',
    },
  };
  let early: Promise<AppProcess> | undefined;
  try {
    const ctx: Ctx = { s, stack, databaseUrl, baseEnv, id, profileDir, windows: new Map() };
    // A quick run boots the pipeline's API while the intake sweep runs: its figures mean nothing anyway.
    early = isQuick() && !s.only ? startPipelineApi(ctx) : undefined;
    early?.catch(() => undefined); // awaited by pipelineFigures, or stopped below
    if (s.only !== 'pipeline') Object.assign(figures, await intakeFigures(ctx));
    if (s.only !== 'intake') Object.assign(figures, await pipelineFigures(ctx, early));
    if (profileDir) {
      // Only the measured windows count: not boot, warm-up, or the other side's rounds.
      figures.profiles = Object.fromEntries(
        profilesIn(profileDir).map((f) => {
          const app = basename(f, '.cpuprofile');
          // Beside the profile, for other summaries of the same windows (e.g. by caller).
          writeFileSync(f.replace(/\.cpuprofile$/, '.windows.json'), JSON.stringify(ctx.windows.get(app) ?? []));
          return [app, summarizeCpuProfile(f, 12, ctx.windows.get(app))];
        }),
      );
    }
  } finally {
    await early?.then(
      (api) => api.stop(),
      () => undefined,
    );
    if (!s.keep) await dropDatabase(stack.DATABASE_URL, DATABASE);
  }
  return figures;
}

// --- 1 and 2: intake versus a bare script ------------------------------------------------

async function intakeFigures(ctx: Ctx) {
  const { s, stack, databaseUrl, baseEnv, id, profileDir } = ctx;
  const names = natsNames(`BENCH_${id}_INTAKE`);
  const api = await startApp(`intake-api-${id}`, {
    env: { ...baseEnv, ...names, ROLE: 'api', ...s.apiEnv },
    profileDir,
  });
  const namespace = `bench-intake-${id}`;
  let n = 0;
  const nextBody = () => JSON.stringify(intakeBody(namespace, `w-${n++}`));

  const bare = await BareIntake.open(databaseUrl, stack.NATS_URL, names.NATS_SUBJECT, `bench-bare-${id}`);
  const sweep: Record<string, unknown> = {};
  try {
    for (const connections of s.connections) {
      sweep[`connections_${connections}`] = await withLoad(() => intakeLevel(ctx, api, bare, connections, nextBody));
    }
  } finally {
    await bare.close();
    await api.stop();
  }
  const rows = await statusCounts(databaseUrl, namespace);
  await deleteStreams(stack.NATS_URL, streamsOf(names));

  const at32 = sweep.connections_32 as Awaited<ReturnType<typeof intakeLevel>> | undefined;
  return {
    intakeSweep: sweep,
    intakeRowsByStatus: rows,
    intakeTargets: at32
      ? {
          ratioAt32: at32.ratio.median,
          ratioTarget: '>= 0.9',
          p99RatioAt32: at32.p99Ratio.median,
          p99RatioTarget: '<= 2',
          apiCpuMsPerAcceptedRequestAt32: at32.apiCpuMsPerAcceptedRequest.median,
          apiCpuTarget: '<= 0.3',
          met: at32.ratio.median >= 0.9 && at32.p99Ratio.median <= 2 && at32.apiCpuMsPerAcceptedRequest.median <= 0.3,
        }
      : 'not measured (BENCH_CONNECTIONS has no 32)',
  };
}

/** Intake and bare at one concurrency: rounds alternate which goes first, so drift in the machine's load hits both alike. */
async function intakeLevel(ctx: Ctx, api: AppProcess, bare: BareIntake, connections: number, nextBody: () => string) {
  const { s } = ctx;
  const intakeRuns: autocannon.Result[] = [];
  const bareRuns: Awaited<ReturnType<BareIntake['measure']>>[] = [];
  const intakeCpu: CpuUse[] = [];
  const bareCpu: CpuUse[] = [];
  const apiCpuPerAccepted: number[] = [];
  if (s.warmupS > 0) {
    log(`${connections} connections: warm-up, intake ${s.warmupS} s, bare ${s.warmupS} s`);
    await cannon(api.url, connections, s.warmupS, nextBody);
    await bare.measure(connections, s.warmupS * 1000);
  }
  for (let r = 0; r < s.rounds; r++) {
    const order = r % 2 === 0 ? ['intake', 'bare'] : ['bare', 'intake'];
    for (const which of order) {
      const before = cpuSnapshot();
      const t0 = performance.now();
      const startUs = monotonicUs();
      if (which === 'intake') {
        const res = await cannon(api.url, connections, s.durationS, nextBody);
        markWindow(ctx, [api], startUs);
        intakeRuns.push(res);
        const cpu = await cpuOfIntake(ctx, before, res['2xx'], performance.now() - t0, api);
        intakeCpu.push(cpu.use);
        apiCpuPerAccepted.push(pidCpuMs(before, cpu.after, api.proc.pid) / Math.max(1, res['2xx']));
        log(
          `${connections} connections, round ${r + 1} intake: ${(res['2xx'] / res.duration).toFixed(0)} req/s, p50 ${res.latency.p50} ms, p99 ${res.latency.p99} ms, non-2xx ${res.non2xx}, errors ${res.errors}`,
        );
      } else {
        const res = await bare.measure(connections, s.durationS * 1000);
        bareRuns.push(res);
        bareCpu.push((await cpuOfIntake(ctx, before, res.count, performance.now() - t0, api)).use);
        log(
          `${connections} connections, round ${r + 1} bare: ${res.reqPerSec.toFixed(0)} req/s, p50 ${res.p50.toFixed(1)} ms, p99 ${res.p99.toFixed(1)} ms, errors ${res.errors}${res.firstError ? ` (${res.firstError})` : ''}`,
        );
      }
    }
  }
  const intakeRps = intakeRuns.map((r) => r['2xx'] / r.duration);
  const bareRps = bareRuns.map((r) => r.reqPerSec);
  return {
    intake: {
      reqPerSec: spread(intakeRps, 0),
      p50Ms: spread(intakeRuns.map((r) => r.latency.p50)),
      p99Ms: spread(intakeRuns.map((r) => r.latency.p99)),
      maxMs: spread(intakeRuns.map((r) => r.latency.max)),
      non2xx: intakeRuns.reduce((a, r) => a + r.non2xx, 0),
      errors: intakeRuns.reduce((a, r) => a + r.errors, 0),
      cpuMsPerRequest: cpuMedians(intakeCpu, intakeSystem),
    },
    bare: {
      reqPerSec: spread(bareRps, 0),
      p50Ms: spread(bareRuns.map((r) => r.p50)),
      p99Ms: spread(bareRuns.map((r) => r.p99)),
      errors: bareRuns.reduce((a, r) => a + r.errors, 0),
      stepP50Ms: {
        insert: spread(
          bareRuns.map((r) => r.stepP50Ms.insert),
          2,
        ),
        publish: spread(
          bareRuns.map((r) => r.stepP50Ms.publish),
          2,
        ),
        update: spread(
          bareRuns.map((r) => r.stepP50Ms.update),
          2,
        ),
      },
      cpuMsPerRequest: cpuMedians(bareCpu, intakeSystem),
    },
    /** intake / bare, req/s and p99, round by round. */
    ratio: spread(
      intakeRps.map((v, i) => v / bareRps[i]),
      2,
    ),
    p99Ratio: spread(
      intakeRuns.map((r, i) => r.latency.p99 / bareRuns[i].p99),
      2,
    ),
    /** The API process's CPU (user + system, from /proc) over the round, per 2xx answer. */
    apiCpuMsPerAcceptedRequest: spread(apiCpuPerAccepted, 3),
  };
}

const BENCH_PROCESS = 'bench process (load generator / bare script / direct applies)';

/** CPU use over one measured window, with this run's processes and database backends named. */
async function cpuOfIntake(
  ctx: Ctx,
  before: CpuSnapshot,
  units: number,
  wallMs: number,
  ...apps: AppProcess[]
): Promise<{ use: CpuUse; after: CpuSnapshot }> {
  const after = cpuSnapshot();
  const named: Record<string, (number | undefined)[]> = {
    [BENCH_PROCESS]: [process.pid],
    'postgres (bench database backends)': await backendPids(ctx.stack.DATABASE_URL, DATABASE),
  };
  for (const a of apps) named[`${a.name.replace(/-[0-9a-f]{6}$/, '')} (child process)`] = [a.proc.pid];
  return { use: cpuPerUnit(before, after, units, wallMs, named), after };
}

/**
 * Per process group, the median over rounds of CPU ms per unit; first how many cores were busy
 * in all, and how many of them went to processes outside the system under test (other suites
 * on a shared machine): when that is high, the figures are noisy.
 */
function cpuMedians(runs: CpuUse[], systemUnderTest: (group: string) => boolean): Record<string, unknown> {
  // A group absent from a round used nothing in it.
  const names = new Set(runs.flatMap((r) => r.byGroup.map((g) => g.group)));
  const groups = new Map(
    [...names].map((n) => [n, runs.map((r) => r.byGroup.find((g) => g.group === n)?.cpuMsPerUnit ?? 0)]),
  );
  const med = (v: number[]) => spread(v, 3).median;
  const foreign = (r: CpuUse) => r.byGroup.filter((g) => !systemUnderTest(g.group)).reduce((a, g) => a + g.cores, 0);
  const out: Record<string, unknown> = {
    'all processes (cores busy)': spread(
      runs.map((r) => r.totalCores),
      2,
    ),
    // Per round, so a round disturbed by another suite shows (its figures are the outliers).
    'not the system under test (cores busy)': spread(runs.map(foreign), 2),
  };
  for (const [g, v] of [...groups].sort((a, b) => med(b[1]) - med(a[1]))) if (med(v) >= 0.005) out[g] = med(v);
  return out;
}

const intakeSystem = (g: string) =>
  g.endsWith('(child process)') || g === BENCH_PROCESS || g.startsWith('postgres (bench') || g === 'nats-server';
const pipelineSystem = (g: string) => intakeSystem(g) || g.startsWith('kubernetes');

function cannon(url: string, connections: number, durationS: number, body: () => string): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}/v1/deployments`,
    connections,
    duration: durationS,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...adminAuthorization() },
    requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
  });
}

/**
 * The intake's work with nothing around it: the same INSERT, publish (msgID, header, timeout)
 * and UPDATE, through the same drivers (pg, @nats-io/jetstream), on a pool of the API's size.
 */
class BareIntake {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly nc: Awaited<ReturnType<typeof connect>>,
    private readonly subject: string,
    private readonly namespace: string,
  ) {}

  static async open(databaseUrl: string, natsUrl: string, subject: string, namespace: string) {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: APP_POOL_SIZE });
    const nc = await connect({ servers: natsUrl });
    return new BareIntake(pool, nc, subject, namespace);
  }

  private n = 0;

  async measure(concurrency: number, durationMs: number) {
    const js = jetstream(this.nc, { timeout: 5000 });
    // Timing spans of the three steps, so a slow step shows by itself.
    const steps = { insert: [] as number[], publish: [] as number[], update: [] as number[] };
    const res = await runFor(durationMs, concurrency, async () => {
      let t = performance.now();
      const span = (step: keyof typeof steps) => {
        const now = performance.now();
        steps[step].push(now - t);
        t = now;
      };
      const requestId = randomUUID();
      const { namespace, name, ...spec } = intakeBody(this.namespace, `w-${this.n++}`);
      const bodyHash = createHash('sha256')
        .update(JSON.stringify({ operation: 'CREATE', namespace, name, specMode: 'REPLACE', spec }))
        .digest('hex');
      await this.pool.query(
        `INSERT INTO deployment_requests
           (request_id, operation, namespace, name, spec, spec_mode, body_hash, status, deadline_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'CREATED', now() + make_interval(secs => $8::double precision / 1000))
         ON CONFLICT (request_id) DO NOTHING
         RETURNING *`,
        [requestId, 'CREATE', namespace, name, JSON.stringify(spec), 'REPLACE', bodyHash, 900_000],
      );
      span('insert');
      const h = natsHeaders();
      h.set(REQUEST_ID_HEADER, requestId);
      await js.publish(this.subject, JSON.stringify({ requestId }), { msgID: requestId, headers: h, timeout: 2000 });
      span('publish');
      await this.pool.query(
        `UPDATE deployment_requests SET status = 'QUEUED', queued_at = now(), updated_at = now()
         WHERE request_id = $1 AND status = 'CREATED'`,
        [requestId],
      );
      span('update');
    });
    const sorted = res.latencies.sort((a, b) => a - b);
    const p50 = (v: number[]) =>
      Number(
        quantile(
          v.sort((a, b) => a - b),
          0.5,
        ).toFixed(2),
      );
    return {
      count: res.latencies.length,
      reqPerSec: (res.latencies.length / res.elapsedMs) * 1000,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      errors: res.errors,
      firstError: res.firstError,
      /** Median ms of each step, waiting for a pool connection included. */
      stepP50Ms: { insert: p50(steps.insert), publish: p50(steps.publish), update: p50(steps.update) },
    };
  }

  async close() {
    await this.nc.close();
    await this.pool.end();
  }
}

async function statusCounts(databaseUrl: string, namespace: string): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ status: string; n: string }>(
      `SELECT status, count(*) AS n FROM deployment_requests WHERE namespace = $1 GROUP BY status ORDER BY status`,
      [namespace],
    );
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  } finally {
    await c.end();
  }
}

// --- 3: the whole pipeline versus direct server-side applies ------------------------------

/** The pipeline's app environment: JetStream names of its own, and workers that create namespaces. */
function pipelineEnv(ctx: Ctx) {
  const names = natsNames(`BENCH_${ctx.id}_PIPE`);
  return { names, env: { ...ctx.baseEnv, ...names, CREATE_NAMESPACES: 'true' } };
}

function startPipelineApi(ctx: Ctx): Promise<AppProcess> {
  const { env } = pipelineEnv(ctx);
  return startApp(`pipeline-api-${ctx.id}`, {
    env: { ...env, ROLE: 'api', ...ctx.s.apiEnv },
    profileDir: ctx.profileDir,
  });
}

async function pipelineFigures(ctx: Ctx, booting?: Promise<AppProcess>) {
  const { s, stack, databaseUrl } = ctx;
  const { names, env } = pipelineEnv(ctx);
  const api = await (booting ?? startPipelineApi(ctx));
  const kc = kubeConfig(stack.KUBECONFIG);
  const apps = kc.makeApiClient(AppsV1Api);
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const sweep: Record<string, unknown> = {};
  const leftovers: string[] = [];
  try {
    for (const workers of s.workerProcesses) {
      sweep[`workers_${workers}`] = await withLoad(() =>
        pipelineLevel(ctx, { api, apps, kc, db, env, workers, leftovers }),
      );
    }
  } finally {
    await api.stop();
    await db.end();
    await deleteStreams(stack.NATS_URL, streamsOf(names));
  }
  const at1 = sweep.workers_1 as Awaited<ReturnType<typeof pipelineLevel>> | undefined;
  return {
    pipelineSweep: sweep,
    pipelineTargets: at1
      ? {
          concurrency: s.pipelineConcurrency,
          ratioWith1Worker: at1.pipelineVsDirect.median,
          ratioTarget: '>= 0.95',
          kubernetesCallsPerRequestWith1Worker: at1.pipeline.kubernetesCallsPerRequest,
          callsTarget: '1.0',
          met: at1.pipelineVsDirect.median >= 0.95 && at1.pipeline.kubernetesCallsPerRequest <= 1,
        }
      : 'not measured (BENCH_WORKERS has no 1)',
    namespacesNotYetDeleted: leftovers,
  };
}

/** The pipeline with `workers` worker processes against direct applies, both at the pipeline concurrency. */
async function pipelineLevel(
  ctx: Ctx,
  p: {
    api: AppProcess;
    apps: AppsV1Api;
    kc: ReturnType<typeof kubeConfig>;
    db: pg.Pool;
    env: Record<string, string>;
    workers: number;
    leftovers: string[];
  },
) {
  const { s, id, profileDir } = ctx;
  const { api, apps, kc, db, env, leftovers } = p;
  const concurrency = s.pipelineConcurrency;
  // The workers share the concurrency, so as many writes are in flight as on the direct side.
  const perWorker = Math.ceil(concurrency / p.workers);
  const workers: AppProcess[] = [];
  const pipelineRuns: Awaited<ReturnType<typeof pipelineCreates>>[] = [];
  const directRuns: Awaited<ReturnType<typeof directApplies>>[] = [];
  const pipelineCpu: CpuUse[] = [];
  const directCpu: CpuUse[] = [];
  const kubeCalls: ReturnType<typeof perRequestCalls>[] = [];
  const tag = `${p.workers} worker${p.workers > 1 ? 's' : ''}`;
  try {
    // Booted together (boots are not measured; the warm-up follows). A failed boot leaves the
    // others in `workers`, so the finally below stops them.
    const boots = Array.from({ length: p.workers }, (_, w) =>
      startApp(`pipeline-w${p.workers}-worker${w}-${id}`, {
        // Each message in flight holds a lock connection and uses a second one.
        env: {
          ...env,
          ROLE: 'worker',
          WORKER_CONCURRENCY: String(perWorker),
          DATABASE_POOL_SIZE: String(2 * perWorker + 2),
          ...s.workerEnv,
        },
        profileDir,
      }).then((w) => void workers.push(w)),
    );
    const booted = await Promise.allSettled(boots);
    const failedBoot = booted.find((b) => b.status === 'rejected');
    if (failedBoot) throw (failedBoot as PromiseRejectedResult).reason;
    if (s.pipelineWarmup > 0) {
      // Cold processes open their pools (the worker's PostgreSQL connections authenticate with
      // SCRAM, costly on 2 cores), connect and JIT-compile: keep that out of the first round.
      const namespace = `bench-warm-${id}-w${p.workers}`;
      await createNamespace(kc, namespace);
      const warm = Array.from({ length: s.pipelineWarmup }, (_, i) => `w-${i}`);
      log(`${tag}: warm-up, ${s.pipelineWarmup} creates through the pipeline, ${s.pipelineWarmup} direct applies`);
      await pipelineCreates(api.url, db, namespace, warm, concurrency);
      await directApplies(
        apps,
        namespace,
        warm.map((n) => `direct-${n}`),
        concurrency,
      );
      leftovers.push(...(await deleteNamespaces(kc, [namespace], s.namespaceWaitMs)));
    }
    for (let r = 0; r < s.pipelineRounds; r++) {
      const order = r % 2 === 0 ? ['direct', 'pipeline'] : ['pipeline', 'direct'];
      for (const which of order) {
        const namespace = `bench-${which === 'direct' ? 'direct' : 'pipe'}-${id}-w${p.workers}-${r}`;
        await createNamespace(kc, namespace);
        const targets = Array.from({ length: s.pipelineRequests }, (_, i) => `d-${i}`);
        const startUs = monotonicUs();
        const before = cpuSnapshot();
        if (which === 'direct') {
          const res = await directApplies(apps, namespace, targets, concurrency);
          directRuns.push(res);
          directCpu.push((await cpuOfIntake(ctx, before, s.pipelineRequests, res.elapsedMs, api, ...workers)).use);
          log(
            `${tag}, round ${r + 1} direct: ${s.pipelineRequests} applies in ${res.elapsedMs.toFixed(0)} ms = ${((s.pipelineRequests / res.elapsedMs) * 1000).toFixed(0)}/s, errors ${res.errors}`,
          );
        } else {
          const calls = await kubeCallCounters(workers);
          const res = await pipelineCreates(api.url, db, namespace, targets, concurrency);
          markWindow(ctx, [api, ...workers], startUs);
          pipelineRuns.push(res);
          pipelineCpu.push((await cpuOfIntake(ctx, before, s.pipelineRequests, res.elapsedMs, api, ...workers)).use);
          kubeCalls.push(perRequestCalls(calls, await kubeCallCounters(workers), s.pipelineRequests));
          log(
            `${tag}, round ${r + 1} pipeline: ${s.pipelineRequests} creates in ${res.elapsedMs.toFixed(0)} ms = ${((s.pipelineRequests / res.elapsedMs) * 1000).toFixed(0)}/s, outcomes ${JSON.stringify(res.failures)}, Kubernetes calls per request ${kubeCalls[kubeCalls.length - 1].total}`,
          );
        }
        leftovers.push(...(await deleteNamespaces(kc, [namespace], s.namespaceWaitMs)));
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
  const perSec = (ms: number) => (s.pipelineRequests / ms) * 1000;
  const pipeTput = pipelineRuns.map((r) => perSec(r.elapsedMs));
  const directTput = directRuns.map((r) => perSec(r.elapsedMs));
  return {
    workerProcesses: p.workers,
    workerConcurrencyEach: perWorker,
    pipeline: {
      requests: s.pipelineRequests,
      concurrency,
      throughputPerSec: spread(pipeTput),
      /** From the first row's created_at to the last completed_at, in PostgreSQL's clock. */
      throughputPerSecDbClock: spread(pipelineRuns.map((r) => perSec(r.dbElapsedMs))),
      postP99Ms: spread(pipelineRuns.map((r) => r.postP99Ms)),
      acceptedToDoneP50Ms: spread(pipelineRuns.map((r) => r.endToEndP50Ms)),
      acceptedToDoneP99Ms: spread(pipelineRuns.map((r) => r.endToEndP99Ms)),
      outcomes: pipelineRuns.map((r) => r.failures),
      /** All verbs, from the workers' /metrics (dm_kubernetes_call_seconds_count); the median over rounds. */
      kubernetesCallsPerRequest: spread(
        kubeCalls.map((c) => c.total),
        2,
      ).median,
      kubernetesCallsByVerbAndCode: kubeCalls[kubeCalls.length - 1]?.byVerb ?? {},
      cpuMsPerRequest: cpuMedians(pipelineCpu, pipelineSystem),
    },
    directApply: {
      applies: s.pipelineRequests,
      concurrency,
      throughputPerSec: spread(directTput),
      p50Ms: spread(directRuns.map((r) => r.p50Ms)),
      p99Ms: spread(directRuns.map((r) => r.p99Ms)),
      errors: directRuns.reduce((a, r) => a + r.errors, 0),
      cpuMsPerApply: cpuMedians(directCpu, pipelineSystem),
    },
    pipelineVsDirect: spread(
      pipeTput.map((v, i) => v / directTput[i]),
      2,
    ),
  };
}

type CallCounters = Map<string, { count: number; sum: number }>;

/** dm_kubernetes_call_seconds count and sum by verb and code ("get 404"), added up over the worker processes. */
async function kubeCallCounters(workers: AppProcess[]): Promise<CallCounters> {
  const out: CallCounters = new Map();
  for (const w of workers) {
    const text = await (await fetch(`${w.url}/metrics`)).text();
    for (const m of text.matchAll(/^dm_kubernetes_call_seconds_(count|sum)\{([^}]*)\} ([0-9.e+-]+)$/gm)) {
      const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(m[2])?.[1];
      const key = [label('verb') ?? '?', label('code')].filter(Boolean).join(' ');
      const c = out.get(key) ?? { count: 0, sum: 0 };
      c[m[1] as 'count' | 'sum'] += Number(m[3]);
      out.set(key, c);
    }
  }
  return out;
}

function perRequestCalls(before: CallCounters, after: CallCounters, requests: number) {
  const byVerb: Record<string, { callsPerRequest: number; meanMs: number }> = {};
  let calls = 0;
  for (const [verb, a] of after) {
    const b = before.get(verb) ?? { count: 0, sum: 0 };
    const n = a.count - b.count;
    calls += Math.max(0, n);
    if (n > 0)
      byVerb[verb] = {
        callsPerRequest: Number((n / requests).toFixed(2)),
        meanMs: Number((((a.sum - b.sum) / n) * 1000).toFixed(1)),
      };
  }
  // Every request makes at least one call: none counted means the metric was not found (NaN, not 0).
  return { total: calls ? Number((calls / requests).toFixed(2)) : NaN, byVerb };
}

/** What the worker sends for a CREATE, sent straight to kube-apiserver: server-side apply, force, our field manager. */
async function directApplies(apps: AppsV1Api, namespace: string, names: string[], concurrency: number) {
  let errors = 0;
  const t0 = performance.now();
  const latencies = await runPool(names, concurrency, async (name) => {
    const manifest = buildDeploymentManifest(
      namespace,
      name,
      { image: 'registry.k8s.io/pause:3.10', replicas: 0 },
      randomUUID(),
    );
    try {
      await apps.patchNamespacedDeployment(
        { name, namespace, body: manifest, fieldManager: FIELD_MANAGER, force: true },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
    } catch {
      errors++;
    }
  });
  const elapsedMs = performance.now() - t0;
  const sorted = latencies.sort((a, b) => a - b);
  return { elapsedMs, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), errors };
}

/** POSTs every create at the given concurrency, then waits until PostgreSQL records all of them finished. */
async function pipelineCreates(apiUrl: string, db: pg.Pool, namespace: string, names: string[], concurrency: number) {
  const t0 = performance.now();
  const postLatencies = await runPool(names, concurrency, async (name) => {
    const res = await fetch(`${apiUrl}/v1/deployments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...adminAuthorization() },
      body: JSON.stringify({ namespace, name, image: 'registry.k8s.io/pause:3.10', replicas: 0 }),
    });
    await res.arrayBuffer();
    if (res.status !== 202) throw new Error(`POST ${namespace}/${name}: ${res.status}`);
  });
  const timeoutMs = Math.max(120_000, names.length * 300);
  for (;;) {
    const { rows } = await db.query<{ done: string }>(
      `SELECT count(*) AS done FROM deployment_requests WHERE namespace = $1 AND status IN ('SUCCESS', 'FAILURE')`,
      [namespace],
    );
    if (Number(rows[0].done) >= names.length) break;
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`pipeline: only ${rows[0].done} of ${names.length} finished after ${timeoutMs} ms`);
    await sleep(50);
  }
  const elapsedMs = performance.now() - t0;
  const { rows } = await db.query<{ status: string; error_code: string | null; n: string }>(
    `SELECT status, error_code, count(*) AS n FROM deployment_requests WHERE namespace = $1 GROUP BY 1, 2`,
    [namespace],
  );
  const failures = Object.fromEntries(
    rows.map((r) => [r.error_code ? `${r.status}:${r.error_code}` : r.status, Number(r.n)]),
  );
  const span = await db.query<{ ms: string; p50: string; p99: string }>(
    `SELECT extract(epoch FROM max(completed_at) - min(created_at)) * 1000 AS ms,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at) * 1000) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at) * 1000) AS p99
     FROM deployment_requests WHERE namespace = $1`,
    [namespace],
  );
  const sortedPosts = postLatencies.sort((a, b) => a - b);
  return {
    elapsedMs,
    dbElapsedMs: Number(span.rows[0].ms),
    failures,
    postP99Ms: quantile(sortedPosts, 0.99),
    endToEndP50Ms: Number(span.rows[0].p50),
    endToEndP99Ms: Number(span.rows[0].p99),
  };
}

type Level = { loadavg: { start: number[]; end: number[] } };
const med = (v: unknown) => (v as { median: number } | undefined)?.median ?? NaN;
const loadSpan = (l: Level['loadavg']) => `${fmt(l.start[0])} → ${fmt(l.end[0])}`;

/** The sweeps side by side, medians over rounds (bench/results/intake.json has every round). */
export function summary(figures: Record<string, unknown>): string {
  const out: string[] = [];
  const intake = figures.intakeSweep as Record<string, Awaited<ReturnType<typeof intakeLevel>> & Level> | undefined;
  if (intake)
    out.push(
      grid(
        'intake sweep: intake beside bare (medians over rounds)',
        [
          'connections',
          'intake req/s',
          'p50 ms',
          'p99 ms',
          'bare req/s',
          'p50 ms',
          'p99 ms',
          'intake/bare',
          'p99 intake/bare',
          'API CPU ms/accepted',
          'load 1m',
        ],
        Object.entries(intake).map(([k, l]) => [
          k.replace('connections_', ''),
          med(l.intake.reqPerSec),
          med(l.intake.p50Ms),
          med(l.intake.p99Ms),
          med(l.bare.reqPerSec),
          med(l.bare.p50Ms),
          med(l.bare.p99Ms),
          med(l.ratio),
          med(l.p99Ratio),
          med(l.apiCpuMsPerAcceptedRequest),
          loadSpan(l.loadavg),
        ]),
      ),
    );
  const pipeline = figures.pipelineSweep as
    Record<string, Awaited<ReturnType<typeof pipelineLevel>> & Level> | undefined;
  if (pipeline)
    out.push(
      grid(
        'pipeline sweep: creates to SUCCESS beside direct applies, same concurrency (medians over rounds)',
        [
          'workers',
          'concurrency each',
          'pipeline /s',
          'direct /s',
          'pipeline/direct',
          'k8s calls/request',
          'accepted→done p50 ms',
          'p99 ms',
          'load 1m',
        ],
        Object.values(pipeline).map((l) => [
          l.workerProcesses,
          l.workerConcurrencyEach,
          med(l.pipeline.throughputPerSec),
          med(l.directApply.throughputPerSec),
          med(l.pipelineVsDirect),
          l.pipeline.kubernetesCallsPerRequest,
          med(l.pipeline.acceptedToDoneP50Ms),
          med(l.pipeline.acceptedToDoneP99Ms),
          loadSpan(l.loadavg),
        ]),
      ),
    );
  return out.join('\n\n');
}
