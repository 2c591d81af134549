/**
 * bench/idle (issue 13): the resident memory of each role at idle.
 *
 * Boots ROLE=api, worker, watcher and reconciler (and all, for reference), each as its own
 * `node dist/src/main.js` process on a fresh database with nothing to do (the watcher and
 * reconciler manage one empty namespace), one after another so boots do not compete. Once a
 * process answers /readyz, waits BENCH_IDLE_SETTLE_S for boot work to settle, then samples
 * its RSS from /proc every 200 ms for BENCH_IDLE_SAMPLE_S: the median and the last sample,
 * VmHWM (the kernel's peak since start, boot included), and the CPU it used meanwhile.
 *
 * Tunables (quick-mode defaults in brackets): BENCH_IDLE_ROLES (api,worker,watcher,reconciler,all
 * [api,worker,watcher,reconciler]), BENCH_IDLE_SETTLE_S (10 [0.5]), BENCH_IDLE_SAMPLE_S (5 [0.6]),
 * BENCH_KEEP=1 (keep the database).
 */
import {
  type AppProcess,
  appEnv,
  benchDatabase,
  cpuSnapshot,
  deleteStreams,
  dropDatabase,
  envFlag,
  envSize,
  isQuick,
  loadNow,
  log,
  mb,
  natsNames,
  openBenchRun,
  pidCpuMs,
  procStatusKb,
  quantile,
  rssOf,
  sleep,
  startApp,
  streamsOf,
  grid,
} from './common.js';

const TARGET_MB = 120;

export async function run(): Promise<Record<string, unknown>> {
  const roles = (
    process.env.BENCH_IDLE_ROLES || (isQuick() ? 'api,worker,watcher,reconciler' : 'api,worker,watcher,reconciler,all')
  )
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const settleS = envSize('BENCH_IDLE_SETTLE_S', 10, 0.5);
  const sampleS = Math.max(0.2, envSize('BENCH_IDLE_SAMPLE_S', 5, 0.6));
  const keep = envFlag('BENCH_KEEP');
  const DATABASE = benchDatabase('k8sdm_bench_idle');

  const bench = await openBenchRun(DATABASE);
  const { stack, id } = bench;
  const nats = natsNames(`BENCH_${id}_IDLE`);
  // A namespace that does not exist: the watcher and the reconciler list it and find nothing.
  const env = { ...appEnv(bench, `bench-idle-${id}`), ...nats };
  const byRole: Record<string, unknown> = {};
  const worst: number[] = [];
  const started: AppProcess[] = [];
  const boot = (role: string) =>
    startApp(`idle-${role}-${id}`, { env: { ...env, ROLE: role }, bootTimeoutMs: 60_000 }).then((app) => {
      started.push(app);
      return app;
    });
  /** After the settle time, RSS samples for sampleS: the median, the last, and the peak since start. */
  const measure = async (role: string, app: AppProcess, loadStart: number[]) => {
    const samples: number[] = [];
    const cpuBefore = cpuSnapshot();
    const t0 = performance.now();
    for (const end = performance.now() + sampleS * 1000; performance.now() < end; await sleep(200)) {
      const v = rssOf(app.proc.pid!);
      if (v === undefined) throw new Error(`${role} exited while idle; see ${app.logFile}`);
      samples.push(v);
    }
    const cpuMsPerS = (pidCpuMs(cpuBefore, cpuSnapshot(), app.proc.pid) / (performance.now() - t0)) * 1000;
    const median = mb(
      quantile(
        [...samples].sort((a, b) => a - b),
        0.5,
      ),
    );
    if (role !== 'all') worst.push(median);
    byRole[role] = {
      rssMb: median,
      lastRssMb: mb(samples[samples.length - 1]),
      peakSinceStartMb: mb(procStatusKb(app.proc.pid!, 'VmHWM') ?? NaN),
      /** CPU (user + system, /proc, 10 ms ticks) over the sampling, per second: what idling costs. */
      cpuMsPerSecond: Number(cpuMsPerS.toFixed(1)),
      loadavg: { start: loadStart, end: loadNow() },
    };
    log(`${role} at idle: RSS ${median} MB, CPU ${cpuMsPerS.toFixed(1)} ms/s`);
  };
  try {
    if (isQuick()) {
      // Booted together, to keep the smoke run short; a measuring run boots them one by one.
      const loadStart = loadNow();
      const apps = await Promise.all(roles.map(boot));
      await sleep(settleS * 1000);
      for (const [i, role] of roles.entries()) await measure(role, apps[i], loadStart);
    } else {
      for (const role of roles) {
        const loadStart = loadNow();
        const app = await boot(role);
        await sleep(settleS * 1000);
        await measure(role, app, loadStart);
        await app.stop();
      }
    }
  } finally {
    await Promise.all(started.map((a) => a.stop()));
    await deleteStreams(stack.NATS_URL, streamsOf(nats)).catch(() => undefined);
    if (!keep) await dropDatabase(stack.DATABASE_URL, DATABASE);
  }
  const max = worst.length ? Math.max(...worst) : NaN;
  return {
    settings: { roles: roles.join(','), settleS, sampleS },
    idleRss: byRole,
    target: { worstRoleMb: max, targetMb: TARGET_MB, met: max <= TARGET_MB },
  };
}

export function summary(figures: Record<string, unknown>): string {
  const roles = figures.idleRss as Record<string, { rssMb: number; peakSinceStartMb: number; cpuMsPerSecond: number }>;
  return grid(
    `RSS of each role at idle (target <= ${TARGET_MB} MB)`,
    ['role', 'RSS MB', 'peak since start MB', 'CPU ms/s'],
    Object.entries(roles).map(([role, r]) => [role, r.rssMb, r.peakSinceStartMb, r.cpuMsPerSecond]),
  );
}
