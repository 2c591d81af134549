/**
 * bench/idle (issue 13): the resident memory of each role at idle.
 *
 * Boots ROLE=api, worker, watcher and reconciler (and all, for reference), each as its own
 * `node dist/src/main.js` process on a fresh database with nothing to do (the watcher and
 * reconciler manage one empty namespace), one after another so boots do not compete. Once a
 * process answers /readyz, waits BENCH_IDLE_SETTLE_S for boot work to settle, then samples
 * its RSS from /proc every 200 ms for BENCH_IDLE_SAMPLE_S: the median and the last sample,
 * and VmHWM (the kernel's peak since start, boot included).
 *
 * Tunables (quick-mode defaults in brackets): BENCH_IDLE_ROLES (api,worker,watcher,reconciler,all
 * [api,worker,watcher,reconciler]), BENCH_IDLE_SETTLE_S (10 [1]), BENCH_IDLE_SAMPLE_S (5 [1]),
 * BENCH_KEEP=1 (keep the database).
 */
import {
  type AppProcess,
  appEnv,
  benchDatabase,
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
  procStatusKb,
  quantile,
  rssOf,
  sleep,
  startApp,
  streamsOf,
} from './common.js';

const TARGET_MB = 120;

export async function run(): Promise<Record<string, unknown>> {
  const roles = (process.env.BENCH_IDLE_ROLES || (isQuick() ? 'api,worker,watcher,reconciler' : 'api,worker,watcher,reconciler,all'))
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const settleS = envSize('BENCH_IDLE_SETTLE_S', 10, 1);
  const sampleS = Math.max(0.2, envSize('BENCH_IDLE_SAMPLE_S', 5, 1));
  const keep = envFlag('BENCH_KEEP');
  const DATABASE = benchDatabase('k8sdm_bench_idle');

  const bench = await openBenchRun(DATABASE);
  const { stack, id } = bench;
  const nats = natsNames(`BENCH_${id}_IDLE`);
  // A namespace that does not exist: the watcher and the reconciler list it and find nothing.
  const env = { ...appEnv(bench, `bench-idle-${id}`), ...nats };
  const byRole: Record<string, unknown> = {};
  const worst: number[] = [];
  try {
    for (const role of roles) {
      const loadStart = loadNow();
      let app: AppProcess | undefined;
      try {
        app = await startApp(`idle-${role}-${id}`, { env: { ...env, ROLE: role }, bootTimeoutMs: 60_000 });
        await sleep(settleS * 1000);
        const samples: number[] = [];
        for (const end = performance.now() + sampleS * 1000; performance.now() < end; await sleep(200)) {
          const v = rssOf(app.proc.pid!);
          if (v === undefined) throw new Error(`${role} exited while idle; see ${app.logFile}`);
          samples.push(v);
        }
        const sorted = samples.sort((a, b) => a - b);
        const median = mb(quantile(sorted, 0.5));
        if (role !== 'all') worst.push(median);
        byRole[role] = {
          rssMb: median,
          lastRssMb: mb(samples[samples.length - 1]),
          peakSinceStartMb: mb(procStatusKb(app.proc.pid!, 'VmHWM') ?? NaN),
          loadavg: { start: loadStart, end: loadNow() },
        };
        log(`${role} at idle: RSS ${median} MB`);
      } finally {
        await app?.stop();
      }
    }
  } finally {
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
