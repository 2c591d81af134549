import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Running } from '../../src/bootstrap.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { EventStreamsService } from '../../src/events/event-streams.service.js';
import { useSuite } from '../support/fixture.js';
import { boot, dropTopology, eventually, testConfig, uniqueId } from '../support/harness.js';

const CLI = 'dist/src/cli/kdm.main.js';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `kdm` as a user does, with KDM_URL and KDM_TOKEN (or what `env` says instead). */
function kdm(env: Record<string, string | undefined>, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
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

/** Where a table's column starts, by its header: kubectl-style tables align every row there. */
const columnStarts = (header: string) => [...header.matchAll(/\S+/g)].map((m) => m.index);

// The kdm CLI as a process against the real stack: an API, a worker and a watcher in-process.
describe('the kdm CLI', () => {
  const ns = `kdm-${uniqueId()}`;
  const suite = useSuite({
    namespaces: [ns],
    env: { ROLE: 'api,worker,watcher', MANAGED_NAMESPACES: ns, JS_BACKOFF_BASE_MS: '200' },
  });
  const as = () => ({ KDM_URL: suite.api, KDM_TOKEN: process.env.ADMIN_API_KEY });
  const dir = mkdtempSync(join(tmpdir(), 'kdm-'));
  const ids: string[] = [];

  it('apply -f creates every document of a YAML file, then wait exits 0 on SUCCESS showing progress', async () => {
    const file = join(dir, 'app.yaml');
    writeFileSync(
      file,
      [
        `namespace: ${ns}\nname: web\nimage: nginx:1.27\nreplicas: 2\nlabels: {tier: front}`,
        `{"namespace": "${ns}", "name": "api", "image": "nginx:1.27", "replicas": 1, "labels": {"tier": "back"}}`,
        '',
      ].join('\n---\n'),
    );
    const applied = await kdm(as(), 'apply', '-f', file);
    expect([applied.status, applied.stderr]).toEqual([0, '']);
    const lines = applied.stdout.trim().split('\n');
    expect(lines.map((l) => l.replace(/[0-9a-f-]{36}/, '<id>'))).toEqual([
      `deployment ${ns}/web: CREATE QUEUED (request <id>)`,
      `deployment ${ns}/api: CREATE QUEUED (request <id>)`,
    ]);
    ids.push(...lines.map((l) => /request ([0-9a-f-]{36})/.exec(l)![1]));

    for (const id of ids) {
      const waited = await kdm(as(), 'wait', id, '--timeout', '2m');
      expect(waited.status).toBe(0);
      // Progress on stderr, ending with the outcome (a request already done shows only that).
      expect(waited.stderr).toMatch(new RegExp(`(^|\\n)request ${id}: SUCCESS \\[\\d+s\\]\\n$`));
      const [header, row] = waited.stdout.trim().split('\n');
      expect(header.split(/\s+/)).toEqual([
        'ID',
        'OPERATION',
        'NAMESPACE',
        'NAME',
        'STATUS',
        'ATTEMPTS',
        'AGE',
        'ERROR',
      ]);
      expect(row.split(/\s+/).slice(0, 5)).toEqual([id, 'CREATE', ns, expect.any(String), 'SUCCESS']);
    }
  });

  // Needs the receipts (the worker writes WAITING, the watcher COMPLETE).
  it('wait --rollout exits 0 once the rollout is COMPLETE', async () => {
    const waited = await kdm(as(), 'wait', ids[0], '--rollout', '--timeout', '2m');
    expect(waited.stderr).toMatch(new RegExp(`request ${ids[0]}: SUCCESS, rollout COMPLETE`));
    expect(waited.status).toBe(0);
  });

  it('get deployments lists them in aligned columns with ages, filters by label, and prints JSON and YAML', async () => {
    const listed = await eventually(async () => {
      const r = await kdm(as(), 'get', 'deployments', '-n', ns);
      return r.status === 0 && r.stdout.includes('web') && r.stdout.includes('api') ? r : undefined;
    });
    const [header, ...rows] = listed.stdout.trim().split('\n');
    expect(header.split(/\s+/)).toEqual([
      'NAME',
      'READY',
      'UP-TO-DATE',
      'AVAILABLE',
      'ROLLOUT',
      'DRIFTED',
      'IMAGES',
      'AGE',
    ]);
    const starts = columnStarts(header);
    for (const row of rows) {
      expect(starts.map((s) => row[s - 1] ?? ' ').join('')).toBe(' '.repeat(starts.length)); // a blank before each column
      expect(row.slice(starts[7])).toMatch(/^\d+(s|m\d*s?)$/);
    }
    expect(rows.map((r) => r.split(/\s+/)[0]).sort()).toEqual(['api', 'web']);

    const front = await kdm(as(), 'get', 'deploy', '-n', ns, '-l', 'tier=front', '-o', 'json');
    expect(front.status).toBe(0);
    expect((JSON.parse(front.stdout) as { name: string; images: string[] }[]).map((d) => [d.name, d.images])).toEqual([
      ['web', ['nginx:1.27']],
    ]);
    const yaml = await kdm(as(), '-o', 'yaml', 'get', 'requests', ids[0]);
    expect(yaml.stdout).toContain(`requestId: ${ids[0]}\n`);
    expect(yaml.stdout).toContain('status: SUCCESS\n');

    const described = await kdm(as(), 'describe', 'deployment', `${ns}/web`);
    expect(described.status).toBe(0);
    expect(described.stdout).toMatch(new RegExp(`^Name:\\s+web\\nNamespace:\\s+${ns}\\n`));
    expect(described.stdout).toContain('Recent requests:');
  });

  it('apply again replaces the spec (an UPDATE), and --wait waits for it', async () => {
    const file = join(dir, 'web.json');
    writeFileSync(file, JSON.stringify([{ namespace: ns, name: 'web', image: 'nginx:1.28', replicas: 1 }]));
    const r = await kdm(as(), 'apply', '-f', file, '--wait', '-o', 'json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      expect.objectContaining({
        operation: 'UPDATE',
        name: 'web',
        status: 'SUCCESS',
        spec: { image: 'nginx:1.28', replicas: 1 },
      }),
    ]);
  });

  it('history lists the revisions of web, rollback --to 1 --wait restores revision 1, and a missing revision exits 1', async () => {
    // web has two revisions by now: the first apply's CREATE and the second apply's replace.
    const before = await kdm(as(), 'history', `${ns}/web`);
    expect([before.status, before.stderr]).toEqual([0, '']);
    const [header, ...rows] = before.stdout.trim().split('\n');
    expect(header.split(/\s+/)).toEqual(['REVISION', 'LINE', 'CHANGE', 'IMAGE', 'REPLICAS', 'BY', 'AGE', 'REQUEST']);
    expect(rows.map((r) => r.split(/\s+/).slice(0, 5))).toEqual([
      ['1', '1', 'CREATE', 'nginx:1.27', '2'],
      ['2*', '1', 'UPDATE', 'nginx:1.28', '1'],
    ]);

    const rolled = await kdm(as(), 'rollback', `${ns}/web`, '--to', '1', '--wait', '-o', 'json');
    expect(rolled.status).toBe(0);
    expect(JSON.parse(rolled.stdout)).toEqual([
      expect.objectContaining({
        operation: 'UPDATE',
        status: 'SUCCESS',
        spec: expect.objectContaining({ image: 'nginx:1.27', replicas: 2 }),
        rollbackOf: { revision: 1, requestId: ids[0] },
      }),
    ]);
    const after = await kdm(as(), 'history', `${ns}/web`);
    expect(after.stdout.trim().split('\n').at(-1)!.split(/\s+/).slice(0, 6)).toEqual([
      '3*',
      '1',
      'ROLLBACK',
      'to',
      '1',
      'nginx:1.27',
    ]);

    const missing = await kdm(as(), 'rollback', `${ns}/web`, '--to', '9');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^kdm: rollback .* to revision 9: 404 .*RevisionNotFound.*\n$/);
    expect(missing.stderr).not.toContain('    at ');
  });

  it('a validation error is one line naming the field, with exit code 1 and no stack trace', async () => {
    const r = await kdm(as(), 'create', `${ns}/bad`, '--image', 'nginx:1.27', '--replicas', '-3');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^kdm: create ${ns}/bad: 400 [^\\n]*replicas[^\\n]*\\n$`));

    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `namespace: ${ns}\nimage: nginx\nreplicas: 1\n`);
    const shape = await kdm(as(), 'apply', '-f', file);
    expect([shape.status, shape.stderr]).toEqual([1, `kdm: ${file}#1: name is required (a string)\n`]);

    writeFileSync(file, 'namespace: [unclosed\n');
    const syntax = await kdm(as(), 'apply', '-f', file);
    expect(syntax.status).toBe(1);
    expect(syntax.stderr).toMatch(new RegExp(`^kdm: ${file}: [^\\n]+\\n$`));
  });

  it('an auth error is one line saying what to set, with exit code 1', async () => {
    const wrong = await kdm({ KDM_URL: suite.api, KDM_TOKEN: `kdm_${'x'.repeat(43)}` }, 'get', 'requests');
    expect([wrong.status, wrong.stdout]).toEqual([1, '']);
    expect(wrong.stderr).toMatch(/^kdm: get requests: 401 [^\n]*\(the API key in --token\/KDM_TOKEN was refused\)\n$/);

    const none = await kdm({ KDM_URL: suite.api }, 'get', 'requests');
    expect([none.status, none.stderr]).toEqual([
      1,
      expect.stringMatching(/^kdm: get requests: 401 .*\(no API key: set KDM_TOKEN or --token\)\n$/),
    ]);

    const flags = await kdm(
      {},
      '--server',
      suite.api,
      '--token',
      process.env.ADMIN_API_KEY!,
      'get',
      'requests',
      '-n',
      ns,
    );
    expect(flags.status).toBe(0);
  });

  it('keys create, list and revoke; a writer key is refused outside its scope in one line', async () => {
    const name = `kdm-cli-${uniqueId()}`;
    const created = await kdm(as(), 'keys', 'create', '--name', name, '--role', 'writer', '--namespaces', ns);
    expect(created.status).toBe(0);
    expect(created.stdout).toMatch(/^kdm_[A-Za-z0-9_-]{43}\n$/);
    const key = created.stdout.trim();
    const id = /API key ([0-9a-f-]{36})/.exec(created.stderr)![1];

    const outside = await kdm({ KDM_URL: suite.api, KDM_TOKEN: key }, 'delete', 'elsewhere/web');
    expect([outside.status, outside.stderr]).toEqual([
      1,
      expect.stringMatching(/^kdm: delete elsewhere\/web: 403 PermissionDenied: [^\n]+\n$/),
    ]);

    const listed = await kdm(as(), 'keys', 'list');
    const row = listed.stdout.split('\n').find((l) => l.startsWith(id))!;
    expect(row.split(/\s+/).slice(0, 6)).toEqual([id, name, 'writer', ns, key.slice(0, 12), 'active']);
    expect(listed.stdout).not.toContain(key);

    expect((await kdm(as(), 'keys', 'revoke', id)).status).toBe(0);
    const revoked = await kdm({ KDM_URL: suite.api, KDM_TOKEN: key }, 'get', 'requests');
    expect(revoked.status).toBe(1);
  });

  it('wait exits 1 when the request ends FAILURE, naming the reason', async () => {
    const patched = await kdm(as(), 'patch', `${ns}/absent`, '--replicas', '2', '-o', 'json');
    expect(patched.status).toBe(0);
    const [{ requestId }] = JSON.parse(patched.stdout) as { requestId: string }[];
    const r = await kdm(as(), 'wait', requestId, '--timeout', '2m');
    expect(r.status).toBe(1);
    expect(r.stdout.split('\n')[1].split(/\s+/).slice(0, 5)).toEqual([requestId, 'UPDATE', ns, 'absent', 'FAILURE']);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(
      new RegExp(`^kdm: request ${requestId} ended FAILURE: \\w+: .+`),
    );
  });

  it('events prints the events kept for a request in order, and --follow streams new ones as JSON lines', async () => {
    const kept = await kdm(as(), 'events', '-n', ns, '--request', ids[0]);
    expect([kept.status, kept.stderr]).toEqual([0, '']);
    const [header, ...rows] = kept.stdout.trim().split('\n');
    expect(header.split(/\s+/)).toEqual(['ID', 'TIME', 'TYPE', 'DEPLOYMENT', 'WHAT']);
    const statuses = rows.filter((r) => r.includes('request.status')).map((r) => /CREATE (\w+)/.exec(r)![1]);
    expect(statuses[0]).toBe('CREATED');
    expect(statuses.at(-1)).toBe('SUCCESS');
    const eventIds = rows.map((r) => Number(r.split(/\s+/)[0]));
    expect(eventIds).toEqual([...eventIds].sort((a, b) => a - b));

    const follower = spawn(
      process.execPath,
      [CLI, 'events', '-n', ns, '--name', 'followed', '--follow', '-o', 'json'],
      {
        env: { PATH: process.env.PATH, ...as() },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    follower.stdout.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => follower.on('exit', resolve));
    try {
      // The stream is open once the API counts it; then the request happens.
      await eventually(async () => suite.app.app.get(EventStreamsService).openStreams > 0);
      const created = await kdm(as(), 'create', `${ns}/followed`, '--image', 'nginx:1.27', '--replicas', '1');
      expect(created.status).toBe(0);
      const lines = await eventually(async () => {
        const parsed = out
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { type: string; status?: string; name: string });
        return parsed.some((e) => e.type === 'request.status' && e.status === 'SUCCESS') ? parsed : undefined;
      }, 60_000);
      expect(lines.every((e) => e.name === 'followed')).toBe(true);
      expect(lines.filter((e) => e.type === 'request.status')[0].status).toBe('CREATED');
    } finally {
      follower.kill('SIGINT');
      await exited;
    }
  });
});

describe('kdm completion', () => {
  /** What bash completes for the words typed so far (the last one is being typed). */
  const complete = (script: string, ...words: string[]) =>
    execFileSync(
      'bash',
      [
        '-c',
        `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kdm; echo "\${COMPREPLY[*]}"`,
      ],
      { encoding: 'utf8' },
    ).trim();

  it('bash completes commands, subcommands and their options, and option values', async () => {
    const r = await kdm({}, 'completion', 'bash');
    expect(r.status).toBe(0);
    expect(complete(r.stdout, 'kdm', '')).toBe(
      'apply diff create patch delete get describe wait events history rollback keys reconcile completion',
    );
    expect(complete(r.stdout, 'kdm', 'get', 'dep')).toBe('deployments');
    expect(complete(r.stdout, 'kdm', 'diff', '--f')).toBe('--filename');
    expect(complete(r.stdout, 'kdm', 'get', 'deploy', '--sel')).toBe('--selector');
    expect(complete(r.stdout, 'kdm', 'keys', 'create', '--role', '')).toBe('reader writer admin');
    expect(complete(r.stdout, 'kdm', 'get', 'requests', '-o', 'y')).toBe('yaml');
  });

  it('zsh gets the same completion through bashcompinit', async () => {
    const r = await kdm({}, 'completion', 'zsh');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^#compdef kdm\n/);
    expect(r.stdout).toContain('complete -o default -F _kdm kdm');
    const bad = await kdm({}, 'completion', 'fish');
    expect([bad.status, bad.stderr]).toEqual([1, expect.stringMatching(/^kdm: .*fish.*\n$/)]);
  });
});

// A request nobody works on: an API alone, on streams no worker consumes.
describe('kdm wait without a worker', () => {
  let config: AppConfig;
  let app: Running;
  const ns = `kdm-${uniqueId()}`;

  beforeAll(async () => {
    config = testConfig({ ROLE: 'api', MANAGED_NAMESPACES: ns });
    app = await boot(config);
  });

  afterAll(async () => {
    await app?.close();
    await dropTopology(config);
  });

  it('exits 2 when the request is still open at the timeout, after showing its status', async () => {
    const env = { KDM_URL: app.apiUrl!, KDM_TOKEN: process.env.ADMIN_API_KEY };
    const created = await kdm(env, 'create', `${ns}/idle`, '--image', 'nginx:1.27', '-o', 'json');
    expect(created.status).toBe(0);
    const [{ requestId }] = JSON.parse(created.stdout) as { requestId: string }[];
    const r = await kdm(env, 'wait', requestId, '--timeout', '1s', '--interval', '200ms');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^request ${requestId}: QUEUED \\[0s\\]\\n`));
    expect(r.stderr).toMatch(new RegExp(`kdm: request ${requestId}: still not finished after 1s\\n$`));
  });
});
