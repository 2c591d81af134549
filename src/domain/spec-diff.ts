import type { DeploymentSpec } from './deployment-spec.js';

/** A leaf value of the request-spec shape: image, quantities, env and label values are strings; counts are numbers. */
export type SpecValue = string | number | null;

/** One field whose value would change; `null` on a side means absent there. */
export interface SpecChange {
  /** Dotted path in the request-spec shape: `image`, `env.LOG_LEVEL`, `resources.limits.cpu`, `labels.team`. */
  path: string;
  from: SpecValue;
  to: SpecValue;
}

/** What a dry run found: the changes a write would make and what Kubernetes (or we) warned about. */
export interface DryRunOutcome {
  wouldChange: boolean;
  changes: SpecChange[];
  warnings: string[];
}

/** Keys of maps whose keys are data (env names, label keys with dots): the path says `env.A.B`, never nests further. */
const DATA_MAPS = new Set(['env', 'labels', 'annotations']);

function leaves(spec: DeploymentSpec | null): Map<string, SpecValue> {
  const out = new Map<string, SpecValue>();
  const walk = (value: unknown, path: string, depth: number) => {
    if (value === undefined || value === null) return;
    if (typeof value === 'object' && !Array.isArray(value)) {
      const dataMap = depth === 1 && DATA_MAPS.has(path);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const p = path ? `${path}.${k}` : k;
        if (dataMap) out.set(p, toValue(v));
        else walk(v, p, depth + 1);
      }
      return;
    }
    out.set(path, toValue(value));
  };
  walk(spec, '', 0);
  return out;
}

const toValue = (v: unknown): SpecValue =>
  v === undefined || v === null ? null : typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v);

/**
 * The fields whose value differs between two specs in request-spec shape (either side null:
 * the Deployment is absent there), sorted by path. Both sides should come from
 * specFromDeployment on objects the apiserver returned, so its defaults and normalised
 * quantities appear on both and are never changes.
 */
export function diffSpecs(from: DeploymentSpec | null, to: DeploymentSpec | null): SpecChange[] {
  const a = leaves(from);
  const b = leaves(to);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  const changes: SpecChange[] = [];
  for (const path of paths) {
    const x = a.get(path) ?? null;
    const y = b.get(path) ?? null;
    if (x !== y) changes.push({ path, from: x, to: y });
  }
  return changes;
}
