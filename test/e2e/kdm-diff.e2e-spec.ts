import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useSuite } from '../support/fixture.js';
import { http, kube, settled, uniqueId } from '../support/harness.js';

const CLI = 'dist/src/cli/kdm.main.js';

function kdm(env: Record<string, string | undefined>, ...args: string[]) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

// `kdm diff -f` as a process against an API and a worker on the real stack: kubectl diff's exit codes.
describe('kdm diff', () => {
  const ns = `kdmdiff-${uniqueId()}`;
  const suite = useSuite({
    namespaces: [ns],
    createNamespaces: true,
    env: { ROLE: 'api,worker', MANAGED_NAMESPACES: ns },
  });
  const as = () => ({ KDM_URL: suite.api, KDM_TOKEN: process.env.ADMIN_API_KEY });
  const dir = mkdtempSync(join(tmpdir(), 'kdm-diff-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('exits 1 listing every field of a Deployment that does not exist, and creates nothing', async () => {
    const app = file('new.yaml', `namespace: ${ns}\nname: fresh\nimage: nginx:1.27\nreplicas: 2\n`);
    const r = await kdm(as(), 'diff', '-f', app);
    expect([r.status, r.stderr]).toEqual([1, '']);
    expect(r.stdout.trim().split('\n')).toEqual([
      `deployment ${ns}/fresh (create): 2 changes`,
      '  image: <none> → "nginx:1.27"',
      '  replicas: <none> → 2',
    ]);
    const live = await kube()
      .apps.readNamespacedDeployment({ namespace: ns, name: 'fresh' })
      .catch((e: { code?: number }) => e.code);
    expect(live).toBe(404);
  });

  it('exits 0 when apply would change nothing, 1 with the changes (path: from → to) otherwise; -o json', async () => {
    const created = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'web',
      image: 'nginx:1.27',
      replicas: 1,
      env: { MODE: 'a' },
    });
    expect((await settled(suite.api, created.body.requestId)).status).toBe('SUCCESS');

    const same = file('same.yaml', `namespace: ${ns}\nname: web\nimage: nginx:1.27\nreplicas: 1\nenv: {MODE: a}\n`);
    const unchanged = await kdm(as(), 'diff', '-f', same);
    expect([unchanged.status, unchanged.stdout.trim(), unchanged.stderr]).toEqual([
      0,
      `deployment ${ns}/web (replace): no changes`,
      '',
    ]);

    const changed = file('changed.yaml', `namespace: ${ns}\nname: web\nimage: nginx:1.28\nreplicas: 1\n`);
    const diff = await kdm(as(), 'diff', '-f', changed);
    expect(diff.status).toBe(1);
    expect(diff.stdout.trim().split('\n')).toEqual([
      `deployment ${ns}/web (replace): 2 changes`,
      '  env.MODE: "a" → <none>',
      '  image: "nginx:1.27" → "nginx:1.28"',
    ]);
    const json = await kdm(as(), '-o', 'json', 'diff', '-f', changed);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ namespace: ns, name: 'web', operation: 'replace', dryRun: true, wouldChange: true }),
    ]);
    // Nothing was applied or recorded.
    const requests = await http(suite.api, 'GET', `/v1/requests?namespace=${ns}&name=web`);
    expect(requests.body.items).toHaveLength(1);
  });

  it('exits 2 on an error: a refusal, an unreadable file, a usage error', async () => {
    const bad = file('bad.yaml', `namespace: ${ns}\nname: web\nimage: nginx:1.27\nreplicas: -1\n`);
    const refused = await kdm(as(), 'diff', '-f', bad);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(
      /^kdm: .*bad\.yaml#1 \(.*\/web\): 400 Bad Request: replicas must not be less than 0\n$/,
    );
    expect((await kdm(as(), 'diff', '-f', join(dir, 'missing.yaml'))).status).toBe(2);
    expect((await kdm(as(), 'diff')).status).toBe(2);
  });
});
