import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { nodeVersionProblem } from '../../src/node-version.js';

/**
 * A node binary older than package.json's engines.node: the machine's own (Debian's node 20),
 * found on PATH behind the Node 22 that make puts first, or in the usual places.
 */
function oldNode(): { path: string; version: string } {
  const candidates = [
    ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'node')),
    '/usr/bin/node',
    '/usr/local/bin/node',
  ];
  const seen = new Set<string>();
  for (const c of candidates) {
    let real: string;
    try {
      accessSync(c, constants.X_OK);
      real = realpathSync(c);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    const version = execFileSync(real, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    if (nodeVersionProblem(version)) return { path: real, version };
  }
  throw new Error(
    `this test needs a node older than package.json's engines.node (the machine's node 20); none among ${[...seen].join(', ')}`,
  );
}

// Every entry point refuses an old Node in one line, before it loads anything that would
// crash there with an unrelated stack trace.
describe('entry points on an old Node', () => {
  const old = oldNode();

  it.each([
    'dist/src/main.js',
    'dist/src/migrate.main.js',
    'dist/src/openapi-export.main.js',
    'dist/src/keys.main.js',
    'dist/src/cli/kdm.main.js',
  ])('%s exits with status 2 and one line naming the Node it needs', (entry) => {
    const r = spawnSync(old.path, [entry], { encoding: 'utf8', env: { ...process.env, ROLE: 'api' } });
    expect({ status: r.status, stderr: r.stderr, stdout: r.stdout }).toEqual({
      status: 2,
      stderr: `k8s-deployment-manager needs Node >= 22.19 (this is v${old.version}); run through make, or put Node 22 on PATH\n`,
      stdout: '',
    });
  });
});
