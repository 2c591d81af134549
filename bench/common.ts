/**
 * Helpers shared by the bench modules (bench/*.ts): the local stack's addresses, a fresh
 * database, app roles as child processes, NATS and Kubernetes clean-up, statistics and
 * CPU-profile summaries. Benchmarks print figures; nothing here asserts on time.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AppsV1Api, CoreV1Api, KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';

/** The repository root (this file runs as dist/bench/common.js). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
/**
 * Where the measured processes come from: this checkout, or BENCH_APP_ROOT, another built
 * checkout (a base) measured by this harness. For scale runs where the base's own harness would
 * create its own set of Deployments again (BENCH_SCALE_NAMESPACE is newer than the base).
 */
export const APP_ROOT = process.env.BENCH_APP_ROOT ? resolve(process.env.BENCH_APP_ROOT) : REPO_ROOT;
export const APP_MAIN = join(APP_ROOT, 'dist', 'src', 'main.js');
export const MIGRATE_MAIN = join(APP_ROOT, 'dist', 'src', 'migrate.main.js');

export const shortId = (bytes = 3) => randomBytes(bytes).toString('hex');
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * `--quick` (or BENCH_QUICK=1): tiny sizes, one round, to check that the harness works. Read at
 * call time, since the runner sets it after this module loaded.
 */
export const isQuick = () => envFlag('BENCH_QUICK');

/** Where a run's results go: quick runs apart, so they never overwrite a measured run's. */
export const resultsDir = () => (isQuick() ? join(RESULTS_DIR, 'quick') : RESULTS_DIR);

/** envInt with a default of its own for quick runs; the variable, when set, wins in both. */
export const envSize = (name: string, full: number, quick: number) => envInt(name, isQuick() ? quick : full);

/** How many Deployments the watcher and reconciler benches make: BENCH_SCALE_N (10,000; 200 in a quick run). */
export function scaleN(): number {
  for (const old of ['BENCH_WATCH_DEPLOYMENTS', 'BENCH_RECONCILE_DEPLOYMENTS'])
    if (process.env[old]) throw new Error(`${old} is gone: set BENCH_SCALE_N, which both benches read`);
  return Math.max(1, envSize('BENCH_SCALE_N', 10_000, 200));
}

/** A comma-separated list of positive integers ("1,8,32"), or the default for this mode. */
export function envIntList(name: string, full: number[], quick: number[] = full): number[] {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return isQuick() ? quick : full;
  const list = v.split(',').map((x) => Number(x.trim()));
  if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`${name} must be a comma-separated list of positive integers, got "${v}"`);
  return list;
}

/** The database a bench module works in: a quick run's is its own, so it never drops a measuring run's. */
export const benchDatabase = (name: string) => (isQuick() ? `${name}_quick_${process.pid}` : name);

/** The machine's load average (1, 5 and 15 minutes), recorded beside each figure set. */
export const loadNow = () => loadavg().map((v) => Number(v.toFixed(2)));

/** Runs one measurement and puts the load average at its start and end beside its figures. */
export async function withLoad<T extends object>(
  measure: () => Promise<T>,
): Promise<T & { loadavg: { start: number[]; end: number[] } }> {
  const start = loadNow();
  const figures = await measure();
  return { ...figures, loadavg: { start, end: loadNow() } };
}

/** A progress logger for `total` steps: a line on stderr every tenth, or every 5 s, whichever comes first. */
export function progress(label: string, total: number): () => void {
  let done = 0;
  let lastAt = performance.now();
  const t0 = lastAt;
  const every = Math.max(1, Math.floor(total / 10));
  return () => {
    done++;
    const now = performance.now();
    if (done === total || done % every === 0 || now - lastAt >= 5000) {
      lastAt = now;
      const rate = (done / (now - t0)) * 1000;
      log(`${label}: ${done}/${total} (${rate.toFixed(0)}/s)`);
    }
  };
}

/** Resident set size of a process, from /proc (bytes); undefined once it is gone. */
export function rssOf(pid: number): number | undefined {
  return procStatusKb(pid, 'VmRSS');
}

/** A field in kB of /proc/<pid>/status (VmRSS, VmHWM, ...), in bytes. */
export function procStatusKb(pid: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${v}"`);
  return n;
}

export const envFlag = (name: string) => ['1', 'true', 'yes', 'on'].includes((process.env[name] ?? '').toLowerCase());

export function log(line: string) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${line}\n`);
}

export const round1 = (v: number) => Number(v.toFixed(1));
export const mb = (bytes: number) => round1(bytes / 1024 / 1024);

/** Retries what a loaded apiserver sheds (429, 5xx, resets): the bench wants the objects, not the errors. */
export async function retrying<T>(fn: () => Promise<T>, tries = 8): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (i >= tries || (code !== undefined && code < 500 && code !== 429)) throw e;
      await sleep(200 * 2 ** i);
    }
  }
}

// --- the local stack --------------------------------------------------------------------

export interface StackEnv {
  DATABASE_URL: string;
  NATS_URL: string;
  KUBECONFIG: string;
}

/** The stack's addresses: from the environment (`make bench` sets them), else from `scripts/stack.sh env`. */
export function stackEnv(): StackEnv {
  const env: Partial<StackEnv> = {
    DATABASE_URL: process.env.DATABASE_URL,
    NATS_URL: process.env.NATS_URL,
    KUBECONFIG: process.env.KUBECONFIG,
  };
  if (!env.DATABASE_URL || !env.NATS_URL || !env.KUBECONFIG) {
    const out = execFileSync(join(REPO_ROOT, 'scripts', 'stack.sh'), ['env'], { encoding: 'utf8' });
    for (const m of out.matchAll(/^export (DATABASE_URL|NATS_URL|KUBECONFIG)=(.*)$/gm)) {
      const key = m[1] as keyof StackEnv;
      env[key] ||= m[2].replace(/^'(.*)'$/, '$1');
    }
  }
  for (const k of ['DATABASE_URL', 'NATS_URL', 'KUBECONFIG'] as const) {
    if (!env[k]) throw new Error(`${k} is not set and scripts/stack.sh env did not give it (is the stack up?)`);
  }
  return env as StackEnv;
}

export function databaseUrlFor(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Drops (forcing out any sessions) and creates `database` on the server of `url`, as a copy of `template` if given; returns its URL. */
export async function recreateDatabase(url: string, database: string, template?: string): Promise<string> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"${template ? ` TEMPLATE "${template}"` : ''}`);
  } finally {
    await admin.end();
  }
  return databaseUrlFor(url, database);
}

/** Drops `database`; a failure is logged, not thrown, so it never hides what a bench measured. */
export async function dropDatabase(url: string, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  try {
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  } catch (e) {
    log(`drop database: ${(e as Error).message}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * A quick run's app processes keep V8's compiled code between boots (most of a boot is loading
 * modules); a measuring run's do not, since a pod's would not either.
 */
const quickEnv = (): Record<string, string> =>
  isQuick() ? { NODE_COMPILE_CACHE: join(tmpdir(), 'k8sdm-bench-quick-compile-cache') } : {};

/** Applies the committed migrations with the real migration command (dist/src/migrate.main.js). */
export function migrate(databaseUrl: string): void {
  execFileSync(process.execPath, [MIGRATE_MAIN], {
    cwd: APP_ROOT,
    env: { ...process.env, ...quickEnv(), DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/**
 * The admin key the benches' API processes accept (ADMIN_API_KEY, upserted at their boot) and
 * the load generators send: the caller's ADMIN_API_KEY when set, else a random one per run.
 */
export const BENCH_ADMIN_KEY = process.env.ADMIN_API_KEY || `kdm_${randomBytes(32).toString('base64url')}`;

/** The Authorization header of BENCH_ADMIN_KEY. */
export const adminAuthorization = (): Record<string, string> => ({ authorization: `Bearer ${BENCH_ADMIN_KEY}` });

/** What every bench run starts from: the stack, a run id, and a fresh migrated database of its own. */
export interface BenchRun {
  stack: StackEnv;
  id: string;
  database: string;
  databaseUrl: string;
}

export async function openBenchRun(database: string): Promise<BenchRun> {
  const stack = stackEnv();
  const id = shortId();
  if (!isQuick()) {
    const databaseUrl = await recreateDatabase(stack.DATABASE_URL, database);
    migrate(databaseUrl);
    return { stack, id, database, databaseUrl };
  }
  // A quick run migrates once and copies the result per module: a copy costs far less than a migration.
  if (!quickTemplate) {
    const template = `k8sdm_bench_quick_template_${process.pid}`;
    migrate(await recreateDatabase(stack.DATABASE_URL, template));
    quickTemplate = template;
  }
  return { stack, id, database, databaseUrl: await recreateDatabase(stack.DATABASE_URL, database, quickTemplate) };
}

let quickTemplate: string | undefined;

/** Drops the quick run's template database, if one was made. */
export async function dropQuickTemplate(): Promise<void> {
  if (quickTemplate) await dropDatabase(stackEnv().DATABASE_URL, quickTemplate);
  quickTemplate = undefined;
}

/**
 * The app's environment for a run: its database, the stack, the namespaces it manages, ports
 * the OS picks, and the admin key the bench authenticates with.
 */
export function appEnv(run: BenchRun, managedNamespaces: string): Record<string, string> {
  return {
    DATABASE_URL: run.databaseUrl,
    NATS_URL: run.stack.NATS_URL,
    KUBECONFIG: run.stack.KUBECONFIG,
    MANAGED_NAMESPACES: managedNamespaces,
    HTTP_PORT: '0',
    HEALTH_PORT: '0',
    ADMIN_API_KEY: BENCH_ADMIN_KEY,
    // One key drives all the load: a limit it can never reach, so the limiter's cost (its
    // upsert per call) is in the figures but its refusals are not.
    RATE_LIMIT_MAX: '1000000000',
    // No load balancer sends to a bench's API: stopping it need not wait for one to notice.
    SHUTDOWN_READINESS_DELAY_MS: '0',
  };
}

/** Stream, subject and consumer names of one bench run's JetStream topology, as app env. */
export function natsNames(prefix: string): Record<string, string> {
  const p = prefix.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  const s = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return {
    NATS_STREAM: p,
    NATS_SUBJECT: `${s}.requests`,
    NATS_CONSUMER: `${s}-workers`,
    NATS_DLQ_STREAM: `${p}_DLQ`,
    NATS_DLQ_SUBJECT: `${s}.dlq`,
    NATS_CONTROL_SUBJECT: `${s}.control`,
  };
}

/** The two streams a run's natsNames() create. */
export const streamsOf = (names: Record<string, string>) => [names.NATS_STREAM, names.NATS_DLQ_STREAM];

/** Deletes streams (and their consumers and messages); missing ones are fine. */
export async function deleteStreams(natsUrl: string, streams: string[]): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for (const s of streams) await jsm.streams.delete(s).catch(() => false);
  } finally {
    await nc.close();
  }
}

// --- Kubernetes -------------------------------------------------------------------------

export function kubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export async function createNamespace(kc: KubeConfig, name: string, mayExist = false): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name, labels: { 'k8s-deployment-manager.io/bench': 'true' } } } })
    .catch((e: unknown) => {
      if (!(mayExist && (e as { code?: number }).code === 409)) throw e;
    });
}

/**
 * The namespace of a scale bench (watcher, reconciler). BENCH_SCALE_NAMESPACE names one to
 * reuse: the bench creates only the Deployments it lacks and leaves it in place, so one set
 * of N serves several runs (creating 10,000 takes minutes of the shared machine). Unset: a
 * namespace of the run's own, deleted at the end.
 */
export function scaleNamespace(own: string): { ns: string; reused: boolean } {
  const named = process.env.BENCH_SCALE_NAMESPACE?.trim();
  return named ? { ns: named, reused: true } : { ns: own, reused: false };
}

/** The Deployments a namespace holds already, by name (listed in pages of 1,000). */
export async function existingDeployments(apps: AppsV1Api, namespace: string): Promise<Map<string, V1Deployment>> {
  const out = new Map<string, V1Deployment>();
  let cont: string | undefined;
  do {
    const page = await apps.listNamespacedDeployment({ namespace, limit: 1000, _continue: cont });
    for (const d of page.items) out.set(d.metadata!.name!, d);
    cont = page.metadata?._continue || undefined;
  } while (cont);
  return out;
}

/**
 * Deletes namespaces (their Deployments, ReplicaSets and Pods go with them) and waits up to
 * waitMs for them to be gone, so the namespace controller's work does not spill into the next
 * measurement. Returns the names still present when the wait ran out.
 */
export async function deleteNamespaces(kc: KubeConfig, names: string[], waitMs = 180_000): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  await Promise.all(names.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
  const deadline = Date.now() + waitMs;
  let left = names;
  while (left.length && Date.now() < deadline) {
    await sleep(1000);
    const present = await Promise.all(
      left.map((name) =>
        core.readNamespace({ name }).then(
          () => true,
          (e: unknown) => (e as { code?: number }).code !== 404,
        ),
      ),
    );
    left = left.filter((_, i) => present[i]);
  }
  return left;
}

/** `count` Deployment names that sort in creation order: d-00000, d-00001, ... */
export const deploymentNames = (count: number) =>
  Array.from({ length: count }, (_, i) => `d-${String(i).padStart(5, '0')}`);

/**
 * Waits up to settleS for kube-controller-manager to observe every Deployment in `namespace`
 * (it writes at its default 20 QPS, so 10,000 new ones take it minutes); returns how many it
 * had not observed yet when the wait ended.
 */
export async function waitForDeploymentController(
  apps: AppsV1Api,
  namespace: string,
  settleS: number,
  pollMs: number,
): Promise<number> {
  const settleStart = performance.now();
  for (;;) {
    let unsettled = 0;
    let cont: string | undefined;
    do {
      const page = await apps.listNamespacedDeployment({ namespace, limit: 1000, _continue: cont });
      unsettled += page.items.filter((d) => (d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 1)).length;
      cont = page.metadata?._continue || undefined;
    } while (cont);
    if (unsettled === 0 || performance.now() - settleStart > settleS * 1000) return unsettled;
    log(`${unsettled} not yet observed by the deployment controller`);
    await sleep(pollMs);
  }
}

/** Deletes a bench's namespace of `count` Deployments, saying so, and waits up to waitMs for it to go. */
export async function removeNamespace(kc: KubeConfig, namespace: string, count: number, waitMs: number): Promise<void> {
  log(`deleting ${namespace} (${count} Deployments)`);
  const left = await deleteNamespaces(kc, [namespace], waitMs);
  if (left.length) log(`namespace ${namespace} still terminating; it will go on its own`);
}

// --- app roles as child processes -------------------------------------------------------

export interface AppProcess {
  name: string;
  /** The API's base URL, or the health port's for roles without the API. */
  url: string;
  logFile: string;
  proc: ChildProcess;
  /** Where `--cpu-prof` writes, when profiling. */
  profileDir?: string;
  /** SIGTERM (graceful), then SIGKILL after graceMs. With a profile, exits so the profile is written. */
  stop(graceMs?: number): Promise<void>;
}

/** App processes still running: killed when the bench process exits, however it exits. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export interface StartOptions {
  /** Extra environment over process.env. */
  env: Record<string, string>;
  /** Run under `node --cpu-prof`, writing into this folder. */
  profileDir?: string;
  bootTimeoutMs?: number;
}

/** A `node dist/src/main.js` child whose output goes to bench/results/logs/<name>.log. */
export interface SpawnedApp {
  proc: ChildProcess;
  logFile: string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Flushes and closes the log file. */
  closeLog(): Promise<void>;
}

/**
 * Spawns `node [nodeArgs] dist/src/main.js` with `env` over process.env, logging to
 * bench/results/logs/<name>.log; the process is killed if the bench exits first.
 */
export function spawnApp(name: string, env: Record<string, string>, nodeArgs: string[] = []): SpawnedApp {
  const logDir = join(resultsDir(), 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  const out = createWriteStream(logFile);
  const proc = spawn(process.execPath, [...nodeArgs, APP_MAIN], {
    cwd: APP_ROOT,
    env: { ...process.env, ...quickEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  proc.stdout!.pipe(out, { end: false });
  proc.stderr!.pipe(out, { end: false });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, logFile, exited, closeLog: () => new Promise<void>((r) => out.end(r)) };
}

/** Kills every app process this bench started that is still running (after a failure). */
export function killAppProcesses(): void {
  for (const p of running) p.kill('SIGKILL');
}

/**
 * Starts `node dist/src/main.js` with the given env, waits for the line naming its URL, then
 * for /readyz to answer 200. Output goes to bench/results/logs/<name>.log.
 */
export async function startApp(name: string, opts: StartOptions): Promise<AppProcess> {
  const nodeArgs: string[] = [];
  if (opts.profileDir) {
    mkdirSync(opts.profileDir, { recursive: true });
    // Nest's shutdown hook re-raises SIGTERM, which kills the process before --cpu-prof
    // writes; SIGUSR2 ends it with process.exit() instead, which does write the profile.
    nodeArgs.push(
      '--cpu-prof',
      `--cpu-prof-dir=${opts.profileDir}`,
      `--cpu-prof-name=${name}.cpuprofile`,
      '--import',
      "data:text/javascript,process.on('SIGUSR2',()=>process.exit(0))",
    );
  }
  const { proc, logFile, exited, closeLog } = spawnApp(name, opts.env, nodeArgs);

  const url = await new Promise<string>((resolveUrl, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start in time; see ${relative(REPO_ROOT, logFile)}`)),
      opts.bootTimeoutMs ?? 30_000,
    );
    // An API process may also name its health port (where /metrics is): its url is the API's.
    const role = opts.env.ROLE ?? process.env.ROLE ?? 'all';
    const servesApi = role === 'all' || role.split(',').some((r) => r.trim() === 'api');
    const urlLine = servesApi ? /API on (http:\/\/[^\s)"]+)/ : /health on (http:\/\/[^\s)"]+)/;
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-4096);
      const m = urlLine.exec(seen);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        resolveUrl(m[1]);
      }
    };
    proc.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} while starting; see ${relative(REPO_ROOT, logFile)}`));
    });
  });
  await waitReady(`${url}/readyz`, 30_000);

  const stop = async (graceMs = 10_000) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(opts.profileDir ? 'SIGUSR2' : 'SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    void closeLog();
  };
  return { name, url, logFile, proc, profileDir: opts.profileDir, stop };
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms: ${last}`);
}

// --- statistics ------------------------------------------------------------------------

/** Value at quantile q (0..1) of an ascending array, nearest rank. */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** A figure measured over several runs: the median (mean of the middle two for an even count), extremes, and each run. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(values: number[], digits = 1): Spread {
  const r = (v: number) => Number(v.toFixed(digits));
  const sorted = [...values].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  const median = (sorted[Math.floor(mid)] + sorted[Math.ceil(mid)]) / 2;
  return { median: r(median), min: r(sorted[0]), max: r(sorted[sorted.length - 1]), runs: values.map(r) };
}

/** Runs `task` over items with at most `concurrency` in flight; returns each item's latency in ms. */
export async function runPool<T>(items: T[], concurrency: number, task: (item: T) => Promise<void>): Promise<number[]> {
  const latencies = new Array<number>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) {
        const t0 = performance.now();
        await task(items[i]);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  return latencies;
}

/**
 * Runs `task` in `concurrency` loops for durationMs (each loop starts a new call as soon as its
 * last one ends, as autocannon's connections do). Returns the latencies of calls that finished.
 */
export async function runFor(
  durationMs: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<{ latencies: number[]; errors: number; elapsedMs: number; firstError?: string }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let n = 0;
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await task(n++);
          latencies.push(performance.now() - t0);
        } catch (e) {
          errors++;
          firstError ??= (e as Error).message;
        }
      }
    }),
  );
  return { latencies, errors, elapsedMs: performance.now() - start, firstError };
}

// --- CPU profiles ----------------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled time inside the windows (or the whole profile), of which busyMs was not idle. */
  sampledMs: number;
  busyMs: number;
  /** Share of busy (non-idle) time by where the code lives: a package, our code, node internals, GC. */
  byOrigin: Record<string, number>;
  /** Functions with the most self time, share of busy time. */
  topFunctions: Record<string, number>;
}

/** Microseconds on the monotonic clock that `.cpuprofile` timestamps use, to mark measurement windows. */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Where a frame's code comes from: a node_modules package, our dist/, node: internals, or V8 (GC, syscalls). */
function originOf(url: string, functionName: string): string {
  if (!url) return `(${functionName.replace(/^\((.*)\)$/, '$1') || 'native'})`;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node: internals';
  const dist = url.indexOf('/dist/');
  if (dist >= 0)
    return `ours: ${url
      .slice(dist + 6)
      .split('/')
      .slice(0, 2)
      .join('/')}`;
  return url;
}

/**
 * Self time of a `.cpuprofile` (from `node --cpu-prof`) by origin and by function, counting
 * only samples inside `windows` ([startUs, endUs] from monotonicUs()) when given.
 */
export function summarizeCpuProfile(file: string, top = 15, windows?: [number, number][]): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
    startTime: number;
  };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i];
    if (windows && !windows.some(([a, b]) => t >= a && t <= b)) continue;
    const dt = prof.timeDeltas[i + 1] ?? 0;
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + dt);
  }
  const origins = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    total += us;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const origin = originOf(url, functionName);
    origins.set(origin, (origins.get(origin) ?? 0) + us);
    const where = url ? ` ${url.replace(/^.*\/(node_modules|dist)\//, '')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => Number(((100 * us) / busy).toFixed(1));
  const rank = (m: Map<string, number>) =>
    Object.fromEntries(
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([k, us]) => [k, pct(us)]),
    );
  return {
    file: relative(REPO_ROOT, file),
    sampledMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    byOrigin: rank(origins),
    topFunctions: rank(fns),
  };
}

export function profilesIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

// --- CPU accounting from /proc -----------------------------------------------------------

const CLOCK_TICKS = 100;

/** CPU seconds used so far by each live process: pid → command and seconds. */
export type CpuSnapshot = Map<number, { comm: string; secs: number }>;

export function cpuSnapshot(): CpuSnapshot {
  const out: CpuSnapshot = new Map();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out; // not Linux
  }
  for (const d of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // gone
    }
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    if (ticks) out.set(Number(d), { comm: stat.slice(stat.indexOf('(') + 1, close), secs: ticks / CLOCK_TICKS });
  }
  return out;
}

function groupOf(comm: string): string {
  if (comm === 'postgres') return 'postgres (other databases, background)';
  if (comm === 'nats-server') return 'nats-server';
  if (comm === 'node' || comm === 'MainThread' || comm.startsWith('node')) return 'other node processes';
  if (/^(kube-|etcd|kwok)/.test(comm)) return 'kubernetes (apiserver, etcd, controllers, kwok)';
  return 'other';
}

export interface CpuUse {
  /** Cores busy in all, over the window. */
  totalCores: number;
  byGroup: { group: string; cpuMsPerUnit: number; cores: number }[];
}

/**
 * CPU each group of processes used between two snapshots, per unit of work (e.g. per request),
 * largest first. `named` puts given pids in groups of their own (the app, this process, the
 * PostgreSQL backends serving the bench database); the rest is grouped by command.
 */
export function cpuPerUnit(
  before: CpuSnapshot,
  after: CpuSnapshot,
  units: number,
  wallMs: number,
  named: Record<string, (number | undefined)[]> = {},
): CpuUse {
  const nameOf = new Map<number, string>();
  for (const [name, pids] of Object.entries(named)) for (const pid of pids) if (pid) nameOf.set(pid, name);
  const used = new Map<string, number>();
  let total = 0;
  for (const [pid, { comm, secs }] of after) {
    const delta = secs - (before.get(pid)?.secs ?? 0);
    if (delta <= 0) continue;
    const group = nameOf.get(pid) ?? groupOf(comm);
    used.set(group, (used.get(group) ?? 0) + delta);
    total += delta;
  }
  const byGroup = [...used]
    .map(([group, secs]) => ({
      group,
      cpuMsPerUnit: Number(((secs * 1000) / units).toFixed(3)),
      cores: Number(((secs * 1000) / wallMs).toFixed(2)),
    }))
    .sort((a, b) => b.cpuMsPerUnit - a.cpuMsPerUnit);
  return { totalCores: Number(((total * 1000) / wallMs).toFixed(2)), byGroup };
}

/** The pids of the PostgreSQL backends connected to `database` right now. */
export async function backendPids(serverUrl: string, database: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
    return rows.map((r) => r.pid);
  } finally {
    await c.end();
  }
}

/** CPU ms one process used between two snapshots. */
export const pidCpuMs = (before: CpuSnapshot, after: CpuSnapshot, pid: number | undefined) =>
  pid === undefined ? NaN : ((after.get(pid)?.secs ?? 0) - (before.get(pid)?.secs ?? 0)) * 1000;

// --- summary tables -------------------------------------------------------------------

/** A plain text table with a header row, columns sized to fit. */
export function grid(title: string, header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const row = (r: string[]) => `| ${r.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ')} |`;
  return [title, line, row(cells[0]), line, ...cells.slice(1).map(row), line].join('\n');
}

/** A number for a table: grouped thousands, at most 2 decimals; NaN as "-". */
export function fmt(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return '-';
  return n.toLocaleString('en-US', { maximumFractionDigits: 2 });
}
