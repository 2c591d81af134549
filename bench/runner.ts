/**
 * `make bench` (through bench/run.ts): runs every bench module compiled next to this file (dist/bench/*.js other
 * than run and common), prints each one's figures as a table and writes them to
 * bench/results/<name>.json, with the load average at the module's start and end.
 *
 *   node dist/bench/run.js              every module
 *   node dist/bench/run.js intake       only the named ones
 *   node dist/bench/run.js --quick      tiny sizes, one round (BENCH_QUICK=1 does the same): checks
 *                                       that every module measures and returns figures, and fails
 *                                       when one does not; results go to bench/results/quick/
 *
 * The contract a bench module keeps (see BenchModule): export `run()`, which sets up what it
 * needs, measures, cleans up after itself, and resolves to its figures as a plain JSON-able
 * record (nested objects are fine). It prints progress to stderr, never asserts on timing,
 * and throws only when it could not measure at all.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { APP_ROOT, dropQuickTemplate, isQuick, loadNow, REPO_ROOT, resultsDir } from './common.js';

/** What every bench module exports; `summary`, when there, turns its figures into a short table for people. */
export interface BenchModule {
  run(): Promise<Record<string, unknown>>;
  summary?(figures: Record<string, unknown>): string;
}

const NOT_BENCHES = new Set(['run', 'runner', 'common', 'compare']);

/** Bench module names found next to this file, in name order. */
export function discover(dir = dirname(fileURLToPath(import.meta.url))): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => basename(f, '.js'))
    .filter((n) => !NOT_BENCHES.has(n))
    .sort();
}

/** Flattens nested records to dotted keys; arrays of numbers become "a / b / c". */
export function flatten(value: unknown, prefix = '', out: [string, string][] = []): [string, string][] {
  if (isSpread(value)) {
    const f = (n: number) => formatNumber(n);
    out.push([
      prefix,
      value.runs.length > 1
        ? `${f(value.median)} (min ${f(value.min)}, max ${f(value.max)}; runs ${value.runs.map(f).join(' / ')})`
        : f(value.median),
    ]);
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) out.push([prefix, value.join(' / ')]);
    else value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else {
    out.push([prefix, typeof value === 'number' ? formatNumber(value) : String(value)]);
  }
  return out;
}

/** A figure measured over several runs (common.ts spread()): shown as one cell. */
function isSpread(v: unknown): v is { median: number; min: number; max: number; runs: number[] } {
  return (
    v !== null &&
    typeof v === 'object' &&
    ['median', 'min', 'max', 'runs'].every((k) => k in v) &&
    Object.keys(v).length === 4
  );
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

export function table(title: string, rows: [string, string][]): string {
  const w = Math.max(6, ...rows.map(([k]) => k.length));
  const v = Math.max(5, ...rows.map(([, x]) => x.length));
  const line = `+${'-'.repeat(w + 2)}+${'-'.repeat(v + 2)}+`;
  return [
    title,
    line,
    `| ${'figure'.padEnd(w)} | ${'value'.padEnd(v)} |`,
    line,
    ...rows.map(([k, x]) => `| ${k.padEnd(w)} | ${x.padEnd(v)} |`),
    line,
  ].join('\n');
}

function commitOf(dir: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown'; // not a git checkout
  }
}

function environment() {
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadavg1m: Number(loadavg()[0].toFixed(2)),
    commit: commitOf(REPO_ROOT),
    // BENCH_APP_ROOT: the processes measured came from another checkout than the harness.
    ...(APP_ROOT === REPO_ROOT ? {} : { app: { root: APP_ROOT, commit: commitOf(APP_ROOT) } }),
    quick: isQuick(),
  };
}

/** What a quick run asserts of a module's figures: that it measured something (a finite number outside its settings and load averages). */
export function measuredSomething(figures: Record<string, unknown>): boolean {
  return flatten(figures).some(
    ([k, v]) =>
      !k.startsWith('settings.') && !k.includes('loadavg') && /^-?[\d,]+(\.\d+)?/.test(v) && !/NaN|Infinity/.test(v),
  );
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--quick')) process.env.BENCH_QUICK = '1';
  const unknownFlags = args.filter((a) => a.startsWith('-') && a !== '--quick');
  if (unknownFlags.length) throw new Error(`unknown option ${unknownFlags.join(', ')}; the only one is --quick`);
  const wanted = args.filter((a) => !a.startsWith('-'));
  const found = discover();
  const names = wanted.length ? wanted : found;
  const unknown = names.filter((n) => !found.includes(n));
  if (unknown.length)
    throw new Error(`no bench module named ${unknown.join(', ')}; found: ${found.join(', ') || 'none'}`);
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const runStart = performance.now();
  const outcomes: [string, string][] = [];

  let failed = 0;
  for (const name of names) {
    let mod: Partial<BenchModule>;
    try {
      mod = (await import(
        pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), `${name}.js`)).href
      )) as Partial<BenchModule>;
    } catch (e) {
      console.error(`bench/${name} could not be loaded: ${(e as Error).stack ?? String(e)}`);
      failed++;
      continue;
    }
    if (typeof mod.run !== 'function') {
      console.error(`bench/${name}: exports no run(); skipped`);
      failed++;
      continue;
    }
    const startedAt = new Date().toISOString();
    const before = environment();
    const loadStart = loadNow();
    const t0 = performance.now();
    let figures: Record<string, unknown>;
    try {
      figures = await mod.run();
    } catch (e) {
      console.error(`bench/${name} failed: ${(e as Error).stack ?? String(e)}`);
      outcomes.push([name, 'FAILED (threw)']);
      failed++;
      continue;
    }
    const loadEnd = loadNow();
    const result = {
      bench: name,
      startedAt,
      finishedAt: new Date().toISOString(),
      environment: before,
      loadavg: { start: loadStart, end: loadEnd },
      figures,
    };
    const file = join(dir, `${name}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `\n${table(`bench/${name} (${startedAt}, ${seconds} s, load ${loadStart.join(' ')} → ${loadEnd.join(' ')} on ${before.cpus} cores)`, flatten(figures))}`,
    );
    let summaryFailed = false;
    if (typeof mod.summary === 'function') {
      try {
        console.log(`\n${mod.summary(figures)}`);
      } catch (e) {
        console.error(`bench/${name}: its summary failed: ${(e as Error).stack ?? String(e)}`);
        summaryFailed = true;
      }
    }
    console.log(`written to ${relative(REPO_ROOT, file)}`);
    if (isQuick() && !measuredSomething(figures)) {
      console.error(`bench/${name} returned no figures`);
      outcomes.push([name, 'FAILED (no figures)']);
      failed++;
    } else if (isQuick() && summaryFailed) {
      outcomes.push([name, 'FAILED (its summary table)']);
      failed++;
    } else outcomes.push([name, `ok, ${seconds} s`]);
  }
  await dropQuickTemplate();
  const total = ((performance.now() - runStart) / 1000).toFixed(1);
  console.log(
    `\n${table(`bench${isQuick() ? ' --quick' : ''}: ${names.length - failed} of ${names.length} modules measured in ${total} s`, outcomes)}`,
  );
  process.exitCode = failed ? 1 : 0;
}

/** Runs the benches named on the command line (all when none) and exits with the outcome. */
export function runFromCommandLine(): void {
  // Ctrl-C or a kill: exit through process.exit, so common.ts stops the app processes it started.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  main().then(
    () => process.exit(),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
