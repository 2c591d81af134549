import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const node = (...args: string[]) => spawnSync(process.execPath, args, { encoding: 'utf8' });
const tsc = (...args: string[]) => node('node_modules/typescript/bin/tsc', ...args);

// The typed client in clients/typescript: generated from the committed openapi.json, and usable.
describe('the TypeScript client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kdm-client-'));

  it('its types equal what openapi-typescript makes of openapi.json now (run `make openapi` when this fails)', () => {
    // The very command `make openapi` runs (package.json's client:generate), with a temporary output.
    const script = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts[
      'client:generate'
    ];
    const [bin, ...args] = script.split(/\s+/);
    expect(bin).toBe('openapi-typescript');
    const out = args.indexOf('-o');
    const committed = args[out + 1];
    args[out + 1] = join(dir, 'schema.ts');
    execFileSync(process.execPath, ['node_modules/openapi-typescript/bin/cli.js', ...args], { stdio: 'pipe' });
    expect(readFileSync(args[out + 1], 'utf8')).toBe(readFileSync(committed, 'utf8'));
  });

  it('type-checks the sample program, whose wrong calls (@ts-expect-error) must stay errors', () => {
    const r = tsc('-p', 'clients/typescript/examples/tsconfig.json');
    expect([r.status, r.stdout]).toEqual([0, '']);
  });

  it('builds to what its package.json exports: ESM and declarations', () => {
    const outDir = join(dir, 'dist');
    const r = tsc('-p', 'clients/typescript/tsconfig.json', '--outDir', outDir);
    expect([r.status, r.stdout]).toEqual([0, '']);
    const pkg = JSON.parse(readFileSync('clients/typescript/package.json', 'utf8')) as {
      exports: Record<string, Record<string, string>>;
      types: string;
    };
    const files = [pkg.types, ...Object.values(pkg.exports['.']), ...Object.values(pkg.exports['./schema'])];
    for (const f of files) expect([f, existsSync(join(outDir, f.replace(/^\.\/dist\//, '')))]).toEqual([f, true]);
    expect(readFileSync(join(outDir, 'index.d.ts'), 'utf8')).toContain('export declare function createKdmClient');
  });
});
