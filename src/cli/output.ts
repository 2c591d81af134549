import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** JSON or YAML of `value`, or the table `asTable` makes of it. */
export function render<T>(format: OutputFormat, value: T, asTable: (value: T) => string): string {
  if (format === 'json') return JSON.stringify(value, null, 2);
  if (format === 'yaml') return stringify(value).trimEnd();
  return asTable(value);
}

/** Columns aligned as kubectl aligns them: left-justified, three spaces apart, no trailing blanks. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (cell ?? '').padEnd(widths[i]))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * A duration as kubectl shows ages (k8s.io/apimachinery's HumanDuration): 45s, 3m20s, 15m, 5h10m,
 * 20h, 3d4h, 40d, 2y30d, 9y.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** The age of an ISO time, or `<none>` as kubectl shows a missing value. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '<none>';
  const at = Date.parse(iso);
  return Number.isNaN(at) ? '<invalid>' : humanDuration(now - at);
}

export const none = (value: string | number | null | undefined): string =>
  value === null || value === undefined || value === '' ? '<none>' : String(value);

export const keyValues = (map: Record<string, string> | null | undefined): string =>
  Object.entries(map ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
