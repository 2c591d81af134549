import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// What can be checked of the image and Compose file without a Docker engine (none runs here):
// hadolint on the Dockerfile, docker-compose resolving compose.yaml, and the image's entrypoint
// run on this checkout's build.
function hadolint(): string {
  const [bin, version] = execFileSync(
    'bash',
    ['-c', '. scripts/versions.sh; echo "$HADOLINT_BIN"; echo "$HADOLINT_VERSION"'],
    {
      encoding: 'utf8',
    },
  )
    .trim()
    .split('\n');
  if (!existsSync(bin)) {
    throw new Error(`hadolint ${version} is not installed (expected ${bin}): run scripts/build-tools.sh image-checks`);
  }
  return bin;
}

describe('Docker image and Compose (no engine: what can be checked without one)', () => {
  it('docker/Dockerfile passes hadolint with no findings', () => {
    const r = spawnSync(hadolint(), ['docker/Dockerfile'], { encoding: 'utf8' });
    expect({ code: r.status, out: r.stdout + r.stderr }).toEqual({ code: 0, out: '' });
  });

  it('docker-compose resolves docker/compose.yaml: every role, 2 workers, a one-shot migrate first, nats with -js', () => {
    const compose = (...args: string[]) => {
      const r = spawnSync('docker-compose', ['-f', 'docker/compose.yaml', ...args], { encoding: 'utf8' });
      if (r.error) throw new Error(`docker-compose: ${r.error.message} (run scripts/build-tools.sh image-checks)`);
      if (r.status !== 0) throw new Error(`docker-compose ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
      return r.stdout;
    };
    expect(compose('config', '--services').trim().split('\n').sort()).toEqual([
      'api',
      'migrate',
      'nats',
      'postgres',
      'reconciler',
      'watcher',
      'worker-1',
      'worker-2',
    ]);
    const resolved = compose('config');
    for (const role of ['api', 'worker', 'watcher', 'reconciler']) expect(resolved).toContain(`ROLE: ${role}`);
    expect(resolved.match(/ROLE: worker/g)).toHaveLength(2);
    expect(resolved.match(/condition: service_completed_successfully/g)).toHaveLength(5);
    expect(resolved).toMatch(/command:\n {4}- -js\n/);
    expect(resolved).toContain('/etc/kdm/kubeconfig:ro');
    expect(resolved).toContain('ADMIN_API_KEY_FILE: /run/secrets/admin_api_key');
  });

  it("the entrypoint's migrate command reads DATABASE_URL_FILE and applies migrations", () => {
    const dir = mkdtempSync(join(tmpdir(), 'kdm-entrypoint-'));
    try {
      writeFileSync(join(dir, 'database-url'), process.env.TEST_DATABASE_URL!);
      const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` } as Record<
        string,
        string
      >;
      delete env.DATABASE_URL;
      env.DATABASE_URL_FILE = join(dir, 'database-url');
      const r = spawnSync('sh', ['docker/entrypoint.sh', 'migrate'], { env, encoding: 'utf8' });
      expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toContain('[migrate]');

      env.DATABASE_URL_FILE = join(dir, 'missing');
      const missing = spawnSync('sh', ['docker/entrypoint.sh', 'migrate'], { env, encoding: 'utf8' });
      expect(missing.status).not.toBe(0);
      expect(missing.stderr).toContain('DATABASE_URL_FILE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
