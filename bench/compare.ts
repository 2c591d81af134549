/**
 * `scripts/bench-compare.sh` (make bench-compare): prints one module's figures from two runs side by
 * side, the base commit's and this checkout's, measured back to back on the same machine.
 *
 *   node dist/bench/compare.js <base.json> <head.json> [<out.json>]
 *
 * Every figure of either run is a row (flattened as in the bench tables); numbers get head ÷ base.
 * With <out.json>, the pair is written there too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { flatten } from './runner.js';

interface BenchResult {
  bench: string;
  environment?: { commit?: string };
  loadavg?: { start: number[]; end: number[] };
  figures: Record<string, unknown>;
}

const leadingNumber = (v: string | undefined): number | undefined => {
  const m = v?.match(/^-?[\d,]+(\.\d+)?/);
  return m ? Number(m[0].replace(/,/g, '')) : undefined;
};

/** The rows of the side-by-side table: figure, base, head, head ÷ base (when both lead with a number). */
export function compareRows(base: BenchResult, head: BenchResult): [string, string, string, string][] {
  const b = new Map(flatten(base.figures));
  const h = new Map(flatten(head.figures));
  const keys = [...new Set([...b.keys(), ...h.keys()])];
  return keys.map((k) => {
    const [x, y] = [leadingNumber(b.get(k)), leadingNumber(h.get(k))];
    const ratio = x !== undefined && y !== undefined && x !== 0 ? (y / x).toFixed(2) : '';
    return [k, b.get(k) ?? '—', h.get(k) ?? '—', ratio];
  });
}

export function compareTable(base: BenchResult, head: BenchResult): string {
  const rows: [string, string, string, string][] = [
    ['figure', `base ${base.environment?.commit ?? '?'}`, `head ${head.environment?.commit ?? '?'}`, 'head/base'],
    ['loadavg (start → end)', loadOf(base), loadOf(head), ''],
    ...compareRows(base, head),
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const fmt = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [
    `bench/${head.bench}: base and head, same machine, back to back`,
    line,
    fmt(rows[0]),
    line,
    ...rows.slice(1).map(fmt),
    line,
  ].join('\n');
}

const loadOf = (r: BenchResult) => (r.loadavg ? `${r.loadavg.start.join(' ')} → ${r.loadavg.end.join(' ')}` : '');

function main() {
  const [basePath, headPath, outPath] = process.argv.slice(2);
  if (!basePath || !headPath) {
    console.error('usage: node dist/bench/compare.js <base.json> <head.json> [<out.json>]');
    process.exit(2);
  }
  const base = JSON.parse(readFileSync(basePath, 'utf8')) as BenchResult;
  const head = JSON.parse(readFileSync(headPath, 'utf8')) as BenchResult;
  console.log(compareTable(base, head));
  if (outPath) writeFileSync(outPath, `${JSON.stringify({ base, head }, null, 2)}\n`);
}

if (process.argv[1]?.endsWith('compare.js')) main();
