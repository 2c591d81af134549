/**
 * The Node version this service needs, checked by every entry point before it loads the app:
 * on an older Node the dependencies crash while loading, with a stack trace that names
 * neither the cause nor the fix. The rule lives in package.json's `engines.node`
 * (">=MAJOR.MINOR"), which scripts/ensure-node.sh reads too. Only built-ins that every Node
 * has are imported here, so this module itself loads on any version.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NodeRequirement {
  name: string;
  major: number;
  minor: number;
}

/** Reads the rule from the nearest package.json above this module (src/ or dist/src/). */
export function nodeRequirement(from = dirname(fileURLToPath(import.meta.url))): NodeRequirement {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; engines?: { node?: string } };
      const m = /^>=\s*(\d+)\.(\d+)/.exec(pkg.engines?.node ?? '');
      if (!m) throw new Error(`${file}: engines.node must read ">=MAJOR.MINOR"`);
      return { name: pkg.name, major: Number(m[1]), minor: Number(m[2]) };
    }
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The one-line refusal for `version` (as in process.versions.node), or undefined when it is new enough. */
export function nodeVersionProblem(version: string, req: NodeRequirement = nodeRequirement()): string | undefined {
  const [major, minor] = version.split('.').map(Number);
  if (major > req.major || (major === req.major && minor >= req.minor)) return undefined;
  return `${req.name} needs Node >= ${req.major}.${req.minor} (this is v${version}); run through make, or put Node ${req.major} on PATH`;
}

/** Exits with status 2 and one line on stderr when this Node is too old. */
export function exitUnlessSupportedNode(): void {
  const problem = nodeVersionProblem(process.versions.node);
  if (problem === undefined) return;
  console.error(problem);
  process.exit(2);
}
