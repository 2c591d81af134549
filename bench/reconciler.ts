/**
 * bench/reconciler (issue 5, "Performance"): one reconcile pass over N managed Deployments.
 *
 * Setup
 * - Creates N managed Deployments (replicas 0) straight through kube-apiserver with bounded
 *   concurrency, in a namespace of their own. Each object is the manifest the worker would
 *   apply (src/kubernetes/manifest.ts buildDeploymentManifest): managed-by label, request-id
 *   annotation, a port, env, resources, a user label and annotation.
 * - Gives each one the history the drift step compares against: a SUCCESS CREATE row in
 *   `deployment_requests` whose spec is what specFromDeployment reads back from the created
 *   object, so it is not drifted. 1 in 100 rows asks for replicas 2 instead: "scaled to 0 out
 *   of band", the deliberately drifted ones.
 * - A fresh database (migrated by dist/src/migrate.main.js) and JetStream names of its own.
 *
 * Measures, per round (BENCH_RECONCILE_ROUNDS), three passes, each a process
 * `RECONCILE_ONCE=true ROLE=reconciler node dist/src/main.js` (MANAGED_NAMESPACES=<the namespace>):
 *   a. first pass, against an empty mirror (inserts N rows);
 *   b. steady state (nothing broken: only what kube-controller-manager changed since);
 *   c. after breaking the mirror: 1% of rows deleted, 1% made stale, 1% invented.
 * For each: the process's wall time (spawn to exit), the pass's own duration
 * (reconcile_runs.finished_at - started_at), boot and exit overhead, the mirror relist's own
 * figure from its log line, the process's CPU time, and its peak RSS: VmHWM (the kernel's
 * high-water mark, read by a preload at exit, so nothing is missed between samples), plus a
 * 20 ms timeline of RSS and V8 heap spaces from the same preload that splits the pass into its
 * mirror phase (up to the relist log line) and the rest (request recovery and drift), and GC
 * counts. The counts in reconcile_runs are checked against what was broken; rows
 * kube-controller-manager changed between passes (status writes of its backlog, see
 * `controller`) are counted separately, from the rows the pass wrote, so the check is exact.
 *
 * BENCH_RECONCILE_PROFILE=1 runs one more pass a and b under `node --cpu-prof` and summarizes
 * the samples inside the pass window (files under bench/results/profiles/).
 * BENCH_RECONCILE_NODE_ARGS adds node flags to every pass (what-ifs such as
 * `--max-old-space-size=160`), and is recorded in the settings.
 *
 * Then deletes the namespace, the database and the streams.
 *
 * Tunables (quick-mode defaults in brackets): BENCH_SCALE_N (10000 [200]; the watcher bench's
 * too), BENCH_RECONCILE_CREATE_CONCURRENCY (32), BENCH_RECONCILE_SETTLE_S (120 [0]: wait for
 * the deployment controller before measuring), BENCH_RECONCILE_ROUNDS (3 [1]),
 * BENCH_RECONCILE_PROFILE, BENCH_RECONCILE_NODE_ARGS, BENCH_RECONCILE_DELETE_WAIT_S (600 [0]),
 * BENCH_KEEP=1 (keep the namespace, the database and the streams, for a look afterwards; clean up by hand),
 * BENCH_SCALE_NAMESPACE (reuse this namespace's Deployments, shared with the watcher bench; each
 * gets the history of what it is now, so only the deliberate 1% drift; see bench/common.ts).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppsV1Api, type V1Deployment } from '@kubernetes/client-node';
import pg from 'pg';
import { canonicalJson, sha256 } from '../src/common/canonical-json.js';
import { buildDeploymentManifest, specFromDeployment } from '../src/kubernetes/manifest.js';
import type { DeploymentSpec } from '../src/domain/deployment-spec.js';
import {
  appEnv as benchAppEnv,
  createNamespace,
  deleteStreams,
  benchDatabase,
  deploymentNames,
  dropDatabase,
  envFlag,
  envInt,
  envSize,
  existingDeployments,
  killAppProcesses,
  kubeConfig,
  loadNow,
  log,
  mb,
  monotonicUs,
  natsNames,
  openBenchRun,
  profilesIn,
  progress,
  removeNamespace,
  REPO_ROOT,
  resultsDir,
  retrying,
  round1 as r1,
  runPool,
  scaleN,
  scaleNamespace,
  spawnApp,
  spread,
  streamsOf,
  summarizeCpuProfile,
  waitForDeploymentController,
  type ProfileSummary,
  type Spread,
} from './common.js';

const TARGET_PASS_MS = 10_000;
const TARGET_RSS_MB = 180;
const PASS_TIMEOUT_MS = 300_000;

/** What a client would have asked for, per Deployment. */
function desiredSpec(i: number): DeploymentSpec {
  return {
    image: 'nginx:1.27',
    replicas: 0,
    containerPort: 8080,
    env: { BENCH_INDEX: String(i), MODE: 'bench' },
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
    labels: { team: 'bench', tier: i % 2 ? 'web' : 'worker' },
    annotations: { 'bench.k8sdm.io/owner': 'reconciler-bench' },
  };
}

/**
 * Loaded into each reconciler process with --import (from a file, so CPU profiles name it
 * briefly). Every 20 ms it samples process.memoryUsage() and V8's heap spaces; it counts GCs;
 * at exit (once mode ends with process.exit) it writes the timeline, VmHWM (the kernel's peak
 * RSS, which no outside sampler can miss) and CPU time to $BENCH_MEM_OUT.
 */
const PRELOAD_SOURCE = `
import { readFileSync, writeFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
const timeline = [];
const used = (spaces, name) => spaces.find((s) => s.space_name === name)?.space_used_size ?? 0;
const sample = () => {
  const m = process.memoryUsage();
  const s = getHeapSpaceStatistics();
  timeline.push([Date.now(), m.rss, m.heapUsed, m.heapTotal, m.external,
    used(s, 'new_space'), used(s, 'old_space'), used(s, 'large_object_space')]);
};
setInterval(sample, 20).unref();
const gc = { major: 0, majorMs: 0, minor: 0, minorMs: 0, other: 0, otherMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = e.detail?.kind;
    const k = kind === constants.NODE_PERFORMANCE_GC_MAJOR ? 'major' : kind === constants.NODE_PERFORMANCE_GC_MINOR ? 'minor' : 'other';
    gc[k]++;
    gc[k + 'Ms'] += e.duration;
  }
}).observe({ entryTypes: ['gc'] });
process.on('exit', () => {
  sample();
  const hwm = /^VmHWM:\\s+(\\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  const cpu = process.cpuUsage();
  writeFileSync(process.env.BENCH_MEM_OUT, JSON.stringify({
    timeline, gc, vmHwmKb: hwm ? Number(hwm[1]) : null, cpuMs: (cpu.user + cpu.system) / 1000,
  }));
});
`;

/** [epoch ms, rss, heapUsed, heapTotal, external, new space, old space, large-object space] (bytes). */
type MemSample = [number, number, number, number, number, number, number, number];

interface ChildMem {
  timeline: MemSample[];
  gc: { major: number; majorMs: number; minor: number; minorMs: number; other: number; otherMs: number };
  vmHwmKb: number | null;
  cpuMs: number;
}

/** Peaks of the samples taken in [from, to]. */
function phasePeaks(timeline: MemSample[], from: number, to: number) {
  const inside = timeline.filter(([t]) => t >= from && t <= to);
  const max = (i: number) => mb(Math.max(0, ...inside.map((s) => s[i])));
  return { peakRssMb: max(1), peakHeapUsedMb: max(2), peakOldSpaceMb: max(6), peakLargeObjectSpaceMb: max(7) };
}

interface RunRow {
  id: string;
  status: string;
  started_at: Date;
  finished_at: Date;
  inserted: number;
  updated: number;
  marked_deleted: number;
  republished: number;
  requeued: number;
  failed: number;
  drifted: number;
  healed: number;
  error: string | null;
}

interface PhasePeaks {
  peakRssMb: number;
  peakHeapUsedMb: number;
  peakOldSpaceMb: number;
  peakLargeObjectSpaceMb: number;
}

interface PassOutcome {
  run: RunRow;
  wallMs: number;
  passMs: number;
  bootMs: number;
  exitMs: number;
  relistMs: number | null;
  cpuMs: number;
  peakRssMb: number;
  rssAtPassStartMb: number;
  heapUsedAtPassStartMb: number;
  /** From pass start to the mirror's relist log line, and from there to the end of the pass. */
  mirrorPhase: PhasePeaks;
  requestsAndDriftPhase: PhasePeaks;
  /** The heap at the sample with the highest RSS. */
  atPeakRss: {
    rssMb: number;
    heapUsedMb: number;
    heapTotalMb: number;
    oldSpaceMb: number;
    largeObjectSpaceMb: number;
    newSpaceMb: number;
    externalMb: number;
  };
  gc: ChildMem['gc'];
  loadavg1m: number;
  loadavg: { start: number[]; end: number[] };
  logFile: string;
  profile?: ProfileSummary;
}

export async function run(): Promise<Record<string, unknown>> {
  const n = scaleN();
  const createConcurrency = envInt('BENCH_RECONCILE_CREATE_CONCURRENCY', 32);
  const settleS = envSize('BENCH_RECONCILE_SETTLE_S', 120, 0);
  const rounds = Math.max(1, envSize('BENCH_RECONCILE_ROUNDS', 3, 1));
  const deleteWaitS = envSize('BENCH_RECONCILE_DELETE_WAIT_S', 600, 0);
  const DATABASE = benchDatabase('k8sdm_bench_reconciler');
  const profile = envFlag('BENCH_RECONCILE_PROFILE');
  const keep = envFlag('BENCH_KEEP');
  const extraNodeArgs = (process.env.BENCH_RECONCILE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const onePercent = Math.max(1, Math.round(n / 100));

  const bench = await openBenchRun(DATABASE);
  const { stack, id } = bench;
  const { ns, reused } = scaleNamespace(`bench-rec-${id}`);
  const kc = kubeConfig(stack.KUBECONFIG);
  const apps = kc.makeApiClient(AppsV1Api);
  const pool = new pg.Pool({ connectionString: bench.databaseUrl, max: 2 });
  const nats = natsNames(`BENCH_${id}_RECON`);
  const appEnv = { ...benchAppEnv(bench, ns), ROLE: 'reconciler', RECONCILE_ONCE: 'true', ...nats };

  const names = deploymentNames(n);
  // Disjoint 1% slices by index: drifted on purpose, deleted from the mirror, made stale in it.
  const slice = (rem: number) => names.filter((_, i) => i % 100 === rem).slice(0, onePercent);
  const driftedNames = new Set(slice(50));
  const deletedNames = slice(10);
  const staleNames = slice(20);
  const pageSize = Number(process.env.WATCHER_LIST_PAGE_SIZE || 250);
  const figures: Record<string, unknown> = {
    settings: {
      deployments: n,
      createConcurrency,
      settleS,
      rounds,
      listPageSize: pageSize,
      broken: onePercent,
      driftedOnPurpose: driftedNames.size,
      nodeArgs: extraNodeArgs.join(' ') || '(none)',
    },
  };
  const preloadFile = join(tmpdir(), `k8sdm-bench-reconciler-${id}.mjs`);
  writeFileSync(preloadFile, PRELOAD_SOURCE);
  /** Runs one pass as its own process and gathers its figures. */
  const pass = async (label: string, profileDir?: string): Promise<PassOutcome> => {
    const memFile = join(resultsDir(), 'logs', `reconciler-${id}-${label}.mem.json`);
    rmSync(memFile, { force: true });
    const nodeArgs = [...extraNodeArgs, '--import', pathToFileURL(preloadFile).href];
    if (profileDir) {
      mkdirSync(profileDir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${label}.cpuprofile`);
    }
    const load = loadavg()[0];
    const loadStart = loadNow();
    const spawnedEpoch = Date.now();
    const spawnedMono = monotonicUs();
    const t0 = performance.now();
    const { proc, logFile, exited, closeLog } = spawnApp(
      `reconciler-${id}-${label}`,
      { ...appEnv, BENCH_MEM_OUT: memFile },
      nodeArgs,
    );
    let stdout = '';
    let relistLoggedAt = 0;
    proc.stdout!.on('data', (c: Buffer) => {
      stdout = (stdout + c.toString()).slice(-65536);
      if (!relistLoggedAt && /relist \(repair\)[^\n]*\n/.test(stdout)) relistLoggedAt = Date.now();
    });
    const killer = setTimeout(() => proc.kill('SIGKILL'), PASS_TIMEOUT_MS);
    const code = await exited;
    const wallMs = performance.now() - t0;
    const exitedEpoch = Date.now();
    clearTimeout(killer);
    await closeLog();
    const text = readFileSync(logFile, 'utf8');
    const runId = /reconcile run (\d+) /.exec(stdout)?.[1];
    if (code !== 0 || !runId) throw new Error(`pass ${label} exited with ${code}; see ${relative(REPO_ROOT, logFile)}`);
    const run = (await pool.query<RunRow>('SELECT * FROM reconcile_runs WHERE id = $1', [runId])).rows[0];
    if (run.status !== 'SUCCEEDED') throw new Error(`pass ${label} (run ${runId}) ${run.status}: ${run.error}`);
    const mem = JSON.parse(readFileSync(memFile, 'utf8')) as ChildMem;
    const started = run.started_at.getTime();
    const finished = run.finished_at.getTime();
    const tl = mem.timeline;
    const before = tl.filter(([t]) => t <= started).pop();
    const top = tl.reduce((m, s) => (s[1] > m[1] ? s : m), tl[0]);
    const relist = /relist \(repair\)[^\n]*in (\d+) ms/.exec(text);
    const split = relistLoggedAt || finished;
    const outcome: PassOutcome = {
      run,
      wallMs: r1(wallMs),
      passMs: finished - started,
      bootMs: started - spawnedEpoch,
      exitMs: exitedEpoch - finished,
      relistMs: relist ? Number(relist[1]) : null,
      cpuMs: Math.round(mem.cpuMs),
      peakRssMb: mem.vmHwmKb ? r1(mem.vmHwmKb / 1024) : mb(top[1]),
      rssAtPassStartMb: before ? mb(before[1]) : NaN,
      heapUsedAtPassStartMb: before ? mb(before[2]) : NaN,
      mirrorPhase: phasePeaks(tl, started, split),
      requestsAndDriftPhase: phasePeaks(tl, split, finished),
      atPeakRss: {
        rssMb: mb(top[1]),
        heapUsedMb: mb(top[2]),
        heapTotalMb: mb(top[3]),
        externalMb: mb(top[4]),
        newSpaceMb: mb(top[5]),
        oldSpaceMb: mb(top[6]),
        largeObjectSpaceMb: mb(top[7]),
      },
      gc: mem.gc,
      loadavg1m: r1(load),
      loadavg: { start: loadStart, end: loadNow() },
      logFile: relative(REPO_ROOT, logFile),
    };
    if (profileDir) {
      const file = profilesIn(profileDir).find((f) => f.endsWith(`${label}.cpuprofile`));
      // The profile's timestamps are the monotonic clock; map the pass window onto it.
      const toMono = (epoch: number) => spawnedMono + (epoch - spawnedEpoch) * 1000;
      if (file) outcome.profile = summarizeCpuProfile(file, 20, [[toMono(started), toMono(finished)]]);
    }
    log(
      `pass ${label}: ${outcome.passMs} ms (process ${outcome.wallMs.toFixed(0)} ms, relist ${outcome.relistMs} ms), ` +
        `peak RSS ${outcome.peakRssMb} MB (${outcome.rssAtPassStartMb} MB at pass start; ` +
        `mirror ${outcome.mirrorPhase.peakRssMb}, drift ${outcome.requestsAndDriftPhase.peakRssMb}), ` +
        `counts +${run.inserted} ~${run.updated} -${run.marked_deleted} drifted ${run.drifted}`,
    );
    return outcome;
  };

  const countWhere = async (where: string, params: unknown[]) =>
    Number(
      (await pool.query(`SELECT count(*) FROM deployments WHERE namespace = $1 AND ${where}`, [ns, ...params])).rows[0]
        .count,
    );
  /** Live rows the pass wrote other than the given ones: what kube-controller-manager changed since the last list. */
  const churnDuring = (run: RunRow, exclude: string[]) =>
    countWhere(`deleted_at IS NULL AND synced_at BETWEEN $2 AND $3 AND NOT (name = ANY($4::text[]))`, [
      run.started_at,
      run.finished_at,
      exclude,
    ]);
  /** Rows whose list copy had not yet been observed by the deployment controller. */
  const unsettled = () => countWhere('deleted_at IS NULL AND observed_generation < generation', []);

  const results: Record<'a' | 'b' | 'c', PassOutcome[]> = { a: [], b: [], c: [] };
  const checks: Record<string, unknown>[] = [];
  const problems: string[] = [];
  const expect = (round: number, label: string, what: string, got: number, want: number) => {
    if (got !== want) problems.push(`round ${round} pass ${label}: ${what} ${got}, expected ${want}`);
  };

  try {
    // 1. The objects, created as fast as the apiserver takes them, and their request history.
    await createNamespace(kc, ns, reused);
    const existing = reused ? await existingDeployments(apps, ns) : new Map<string, V1Deployment>();
    log(
      `creating ${n - existing.size} Deployments in ${ns} (concurrency ${createConcurrency}; ${existing.size} there already)`,
    );
    const history: {
      request_id: string;
      namespace: string;
      name: string;
      spec: DeploymentSpec;
      body_hash: string;
      gen: number;
      rv: string;
    }[] = new Array(n);
    let readBackMismatches = 0;
    const t0 = performance.now();
    const tick = progress('created', n);
    await runPool(
      names.map((name, i) => ({ name, i })),
      createConcurrency,
      async ({ name, i }) => {
        const requestId = `bench-${id}-${name}`;
        const want = desiredSpec(i);
        const body = buildDeploymentManifest(ns, name, want, requestId);
        // A reused one (BENCH_SCALE_NAMESPACE) gets the history of what it is now.
        const created: V1Deployment =
          existing.get(name) ??
          (await retrying(() => apps.createNamespacedDeployment({ namespace: ns, body })).catch((e: unknown) => {
            // A retry after a lost response finds the object made by the first attempt.
            if ((e as { code?: number }).code === 409) return apps.readNamespacedDeployment({ namespace: ns, name });
            throw e;
          }));
        const back = specFromDeployment(created);
        if (canonicalJson(back) !== canonicalJson(want)) readBackMismatches++;
        const spec = driftedNames.has(name) ? { ...back, replicas: 2 } : back;
        history[i] = {
          request_id: requestId,
          namespace: ns,
          name,
          spec,
          body_hash: sha256(canonicalJson({ operation: 'CREATE', namespace: ns, name, spec })),
          gen: created.metadata?.generation ?? 1,
          rv: created.metadata?.resourceVersion ?? '',
        };
        tick();
      },
    );
    const createS = (performance.now() - t0) / 1000;
    log(
      `created in ${createS.toFixed(1)} s (${readBackMismatches} read back differently from what was sent); writing request history`,
    );
    for (let i = 0; i < n; i += 1000) {
      await pool.query(
        `INSERT INTO deployment_requests (request_id, operation, namespace, name, spec, spec_mode, body_hash, status, attempts,
           result_generation, result_resource_version, queued_at, started_at, completed_at, deadline_at)
         SELECT x.request_id, 'CREATE', x.namespace, x.name, x.spec, 'REPLACE', x.body_hash, 'SUCCESS', 1, x.gen, x.rv,
                now(), now(), now(), now() + interval '15 minutes'
         FROM jsonb_to_recordset($1::jsonb) AS x(request_id text, namespace text, name text, spec jsonb, body_hash text, gen bigint, rv text)`,
        [JSON.stringify(history.slice(i, i + 1000))],
      );
    }
    figures.create = {
      namespace: reused ? `${ns} (reused)` : ns,
      created: n - existing.size,
      seconds: r1(createS),
      perSecond: r1((n - existing.size) / createS),
      specReadBackMismatches: readBackMismatches,
    };

    // 2. Let kube-controller-manager work through its backlog, so "steady state" is close to it.
    log(`waiting up to ${settleS} s for the deployment controller`);
    const settleStart = performance.now();
    const backlog = await waitForDeploymentController(apps, ns, settleS, 15_000);
    figures.controller = {
      notYetObservedAfterSettle: backlog,
      settleWaitS: r1((performance.now() - settleStart) / 1000),
    };

    // 3. The passes.
    for (let round = 1; round <= rounds; round++) {
      if (round > 1) await pool.query('TRUNCATE deployments, watcher_state');
      const check: Record<string, unknown> = { round };

      const a = await pass(`r${round}-a-empty`);
      results.a.push(a);
      expect(round, 'a', 'inserted', a.run.inserted, n);
      expect(round, 'a', 'updated', a.run.updated, 0);
      expect(round, 'a', 'markedDeleted', a.run.marked_deleted, 0);
      expect(round, 'a', 'drifted', a.run.drifted, driftedNames.size);
      expect(round, 'a', 'live rows', await countWhere('deleted_at IS NULL', []), n);
      check.a = {
        inserted: a.run.inserted,
        updated: a.run.updated,
        markedDeleted: a.run.marked_deleted,
        drifted: a.run.drifted,
        unsettledAtList: await unsettled(),
      };

      const b = await pass(`r${round}-b-steady`);
      results.b.push(b);
      const churnB = await churnDuring(b.run, []);
      expect(round, 'b', 'inserted', b.run.inserted, 0);
      expect(round, 'b', 'updated', b.run.updated, churnB);
      expect(round, 'b', 'markedDeleted', b.run.marked_deleted, 0);
      expect(round, 'b', 'drifted', b.run.drifted, driftedNames.size);
      check.b = {
        inserted: b.run.inserted,
        updated: b.run.updated,
        controllerChurn: churnB,
        markedDeleted: b.run.marked_deleted,
        drifted: b.run.drifted,
      };

      // Break the mirror: delete rows, make rows stale (older resourceVersion, wrong replicas), invent rows.
      const invented = Array.from({ length: onePercent }, (_, k) => `ghost-${round}-${String(k).padStart(4, '0')}`);
      await pool.query('DELETE FROM deployments WHERE namespace = $1 AND name = ANY($2::text[])', [ns, deletedNames]);
      await pool.query(
        `UPDATE deployments SET resource_version = '1', desired_replicas = desired_replicas + 7,
           spec = jsonb_set(spec, '{replicas}', to_jsonb(desired_replicas + 7))
         WHERE namespace = $1 AND name = ANY($2::text[])`,
        [ns, staleNames],
      );
      await pool.query(
        `INSERT INTO deployments (namespace, name, uid, spec, desired_replicas, generation, resource_version, rollout)
         SELECT $1, g, gen_random_uuid(), '{"image":"nginx:1.27","replicas":1}', 1, 1, '1', 'AVAILABLE' FROM unnest($2::text[]) AS g`,
        [ns, invented],
      );
      const c = await pass(`r${round}-c-broken`);
      results.c.push(c);
      const churnC = await churnDuring(c.run, [...deletedNames, ...staleNames]);
      expect(round, 'c', 'inserted', c.run.inserted, deletedNames.length);
      expect(round, 'c', 'updated', c.run.updated, staleNames.length + churnC);
      expect(round, 'c', 'markedDeleted', c.run.marked_deleted, invented.length);
      expect(round, 'c', 'drifted', c.run.drifted, driftedNames.size);
      const restored = await countWhere('deleted_at IS NULL AND name = ANY($2::text[])', [deletedNames]);
      const refreshed = await countWhere(
        `deleted_at IS NULL AND resource_version <> '1' AND desired_replicas = 0 AND name = ANY($2::text[])`,
        [staleNames],
      );
      const buried = await countWhere('deleted_at IS NOT NULL AND name = ANY($2::text[])', [invented]);
      expect(round, 'c', 'deleted rows restored', restored, deletedNames.length);
      expect(round, 'c', 'stale rows refreshed', refreshed, staleNames.length);
      expect(round, 'c', 'invented rows marked deleted', buried, invented.length);
      check.c = {
        broke: { deleted: deletedNames.length, stale: staleNames.length, invented: invented.length },
        counts: {
          inserted: c.run.inserted,
          updated: c.run.updated,
          markedDeleted: c.run.marked_deleted,
          drifted: c.run.drifted,
        },
        controllerChurn: churnC,
        repaired: { restored, refreshed, markedDeleted: buried },
      };
      checks.push(check);
    }

    // 4. Optionally, where the time goes: one more a and b under --cpu-prof.
    if (profile) {
      const dir = join(resultsDir(), 'profiles', `reconciler-${id}`);
      await pool.query('TRUNCATE deployments, watcher_state');
      const pa = await pass('profile-a-empty', dir);
      const pb = await pass('profile-b-steady', dir);
      figures.cpuProfile = {
        a_firstPass: { passMs: pa.passMs, ...pa.profile },
        b_steadyState: { passMs: pb.passMs, ...pb.profile },
      };
    }
  } finally {
    killAppProcesses();
    await pool.end();
    rmSync(preloadFile, { force: true });
    if (keep) {
      log(
        `BENCH_KEEP: kept namespace ${ns}, database ${DATABASE} and streams ${nats.NATS_STREAM}, ${nats.NATS_DLQ_STREAM}`,
      );
    } else {
      if (!reused) await removeNamespace(kc, ns, n, deleteWaitS * 1000);
      await deleteStreams(stack.NATS_URL, streamsOf(nats)).catch(() => undefined);
      await dropDatabase(stack.DATABASE_URL, DATABASE);
    }
  }

  const summarize = (list: PassOutcome[]) => {
    const s = (f: (p: PassOutcome) => number, digits = 1): Spread => spread(list.map(f), digits);
    const phase = (f: (p: PassOutcome) => PhasePeaks) => ({
      peakRssMb: s((p) => f(p).peakRssMb),
      peakHeapUsedMb: s((p) => f(p).peakHeapUsedMb),
      peakOldSpaceMb: s((p) => f(p).peakOldSpaceMb),
      peakLargeObjectSpaceMb: s((p) => f(p).peakLargeObjectSpaceMb),
    });
    return {
      passMs: s((p) => p.passMs, 0),
      processWallMs: s((p) => p.wallMs, 0),
      bootMs: s((p) => p.bootMs, 0),
      exitMs: s((p) => p.exitMs, 0),
      relistMs: s((p) => p.relistMs ?? NaN, 0),
      processCpuMs: s((p) => p.cpuMs, 0),
      peakRssMb: s((p) => p.peakRssMb),
      rssAtPassStartMb: s((p) => p.rssAtPassStartMb),
      heapUsedAtPassStartMb: s((p) => p.heapUsedAtPassStartMb),
      mirrorPhase: phase((p) => p.mirrorPhase),
      requestsAndDriftPhase: phase((p) => p.requestsAndDriftPhase),
      gcMajor: s((p) => p.gc.major, 0),
      gcMinor: s((p) => p.gc.minor, 0),
      gcPauseMs: s((p) => p.gc.majorMs + p.gc.minorMs + p.gc.otherMs, 0),
      // The heap at the highest RSS sample of the run with the highest peak.
      atPeakRssOfWorstRun: list.reduce((w, p) => (p.peakRssMb > w.peakRssMb ? p : w), list[0]).atPeakRss,
      loadavg1m: list.map((p) => p.loadavg1m),
      loadavgStartEnd: list.map((p) => `${p.loadavg.start.join(' ')} → ${p.loadavg.end.join(' ')}`),
    };
  };
  figures.passes = {
    a_firstEmptyMirror: summarize(results.a),
    b_steadyState: summarize(results.b),
    c_afterBreaking: summarize(results.c),
  };
  figures.checks = { countsMatch: problems.length === 0, problems, rounds: checks };
  const all = [...results.a, ...results.b, ...results.c];
  const worstPassMs = Math.max(...all.map((p) => p.passMs));
  const worstRssMb = Math.max(...all.map((p) => p.peakRssMb));
  figures.targets = {
    passMs: TARGET_PASS_MS,
    peakRssMb: TARGET_RSS_MB,
    worstPassMs,
    worstProcessWallMs: Math.round(Math.max(...all.map((p) => p.wallMs))),
    worstPeakRssMb: worstRssMb,
    passTimeMet: worstPassMs <= TARGET_PASS_MS,
    peakRssMet: worstRssMb <= TARGET_RSS_MB,
  };
  if (problems.length) log(`count mismatches:\n  ${problems.join('\n  ')}`);
  return figures;
}
