import { randomUUID } from 'node:crypto';
import type { TestingModule } from '@nestjs/testing';
import type pg from 'pg';
import { scrubMirrorEnv } from '../../migrations/1764400200000-request-principal-and-scope.js';
import { DeploymentEntity } from '../../src/deployments/deployment.entity.js';
import { DeploymentsRepository } from '../../src/deployments/deployments.repository.js';
import type { MirrorRow } from '../../src/deployments/mirror-row.mapper.js';
import { mirrorRow } from '../support/mirror-row.js';
import { NamespaceScope } from '../../src/domain/principal.js';
import { DeploymentRequestEntity, Operation, SpecMode } from '../../src/requests/deployment-request.entity.js';
import { RequestsRepository } from '../../src/requests/requests.repository.js';
import { db, uniqueId } from '../support/harness.js';
import { repositoryModule } from '../support/repository-module.js';

/**
 * The SQL half of API key scopes: `= ANY` on exact names, `LIKE ANY` on escaped prefixes, in
 * the requests and the deployments repositories; Idempotency-Keys unique per API key; the
 * migration's scrub of env values in the mirror.
 */
describe('namespace scope filters and per-key Idempotency-Keys (PostgreSQL)', () => {
  let module: TestingModule;
  let requests: RequestsRepository;
  let deployments: DeploymentsRepository;
  let pool: pg.Pool;
  const id = uniqueId();
  // Namespaces here are written straight to the tables, so they may hold LIKE's wildcards.
  const ns = (what: string) => `sc-${id}-${what}`;
  const NAMESPACES = [
    'one',
    'one-more',
    'team-a',
    'team-b',
    'teamx',
    '50%-off',
    '500',
    'a_b',
    'axb',
    'back\\slash',
    'backxslash',
  ].map(ns);

  beforeAll(async () => {
    ({ module } = await repositoryModule(
      [DeploymentRequestEntity, DeploymentEntity],
      [RequestsRepository, DeploymentsRepository],
    ));
    requests = module.get(RequestsRepository);
    deployments = module.get(DeploymentsRepository);
    pool = db();
    for (const namespace of NAMESPACES) {
      await accept(namespace, 'scoped', null);
      await deployments.upsertMany([row(namespace, 'scoped')]);
    }
  });

  afterAll(async () => {
    await pool?.end();
    await module?.close();
  });

  function accept(namespace: string, name: string, idempotencyKey: string | null, keyId: string | null = null) {
    return requests.insertIfAbsent({
      requestId: randomUUID(),
      operation: Operation.CREATE,
      namespace,
      name,
      spec: { image: 'nginx:1.27', replicas: 1 },
      specMode: SpecMode.REPLACE,
      bodyHash: 'h',
      deadlineMs: 600_000,
      requestedBy: { keyId, name: keyId ? `key-${keyId.slice(0, 8)}` : 'reconciler' },
      idempotencyKey,
    });
  }

  const row = (namespace: string, name: string, over: Partial<MirrorRow> = {}): MirrorRow =>
    mirrorRow(namespace, name, { resourceVersion: '100', ...over });

  const CASES: [string, string[] | undefined, string[]][] = [
    ['every namespace', ['*'], NAMESPACES],
    ['exact names only, no prefix match', [ns('one')], [ns('one')]],
    ['a prefix', [ns('team-*')], [ns('team-a'), ns('team-b')]],
    ['names and prefixes together', [ns('one'), ns('team-*')], [ns('one'), ns('team-a'), ns('team-b')]],
    ['% in a prefix is literal', [ns('50%*')], [ns('50%-off')]],
    ['_ in a prefix is literal', [ns('a_*')], [ns('a_b')]],
    ['\\ in a prefix is literal', [ns('back\\*')], [ns('back\\slash')]],
    ['nothing matches', [`zz-${id}`], []],
  ];

  it.each(CASES)('requests list: %s', async (_, patterns, expected) => {
    const rows = await requests.list({ name: 'scoped', limit: 1000, scope: new NamespaceScope(patterns!) });
    const seen = rows.map((r) => r.namespace).filter((n) => n.startsWith(`sc-${id}-`));
    expect(seen.sort()).toEqual([...expected].sort());
  });

  it.each(CASES)('deployments list: %s', async (_, patterns, expected) => {
    const scope = new NamespaceScope(patterns!);
    const rows = await deployments.list({ limit: 1000, after: [`sc-${id}-`, ''], scope });
    const seen = rows.map((r) => r.namespace).filter((n) => n.startsWith(`sc-${id}-`));
    expect(seen.sort()).toEqual([...expected].sort());
  });

  it('findById: the request outside the scope is null, like an absent one', async () => {
    const r = (await accept(ns('team-a'), 'by-id', null))!;
    expect((await requests.findById(r.requestId, new NamespaceScope([ns('team-*')])))?.requestId).toBe(r.requestId);
    expect(await requests.findById(r.requestId, new NamespaceScope([ns('one')]))).toBeNull();
    expect((await requests.findById(r.requestId))?.requestId).toBe(r.requestId);
  });

  it('Idempotency-Keys are unique per API key, and the reconciler (no key) is a key of its own', async () => {
    const [one, two] = [randomUUID(), randomUUID()];
    const key = `idem-${id}`;
    const first = await accept(ns('one'), 'idem', key, one);
    expect(first).not.toBeNull();
    expect(await accept(ns('one'), 'idem', key, one)).toBeNull();
    const second = await accept(ns('one'), 'idem', key, two);
    const system = await accept(ns('one'), 'idem', key, null);
    expect(second).not.toBeNull();
    expect(system).not.toBeNull();
    expect(await accept(ns('one'), 'idem', key, null)).toBeNull();
    expect((await requests.findByIdempotencyKey(one, key))?.requestId).toBe(first!.requestId);
    expect((await requests.findByIdempotencyKey(two, key))?.requestId).toBe(second!.requestId);
    expect((await requests.findByIdempotencyKey(null, key))?.requestId).toBe(system!.requestId);
    expect(await requests.findByIdempotencyKey(randomUUID(), key)).toBeNull();
    // Without a key, nothing is unique: every call is a new request.
    expect(await accept(ns('one'), 'idem', null, one)).not.toBeNull();
    expect(await accept(ns('one'), 'idem', null, one)).not.toBeNull();
  });

  it("the migration's scrub drops env values of unmanaged rows and re-reads managed rows holding empty values", async () => {
    const managed = { 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' };
    const env = { TOKEN: 'secret', DB_PASSWORD: '' };
    await deployments.upsertMany([
      row(ns('scrub'), 'foreign', { spec: { image: 'x', replicas: 1, env }, resourceVersion: '500' }),
      row(ns('scrub'), 'ours-ref', {
        labels: managed,
        spec: { image: 'x', replicas: 1, env },
        resourceVersion: '500',
      }),
      row(ns('scrub'), 'ours-plain', {
        labels: managed,
        spec: { image: 'x', replicas: 1, env: { A: '1' } },
        resourceVersion: '500',
      }),
    ]);
    await scrubMirrorEnv((sql) => pool.query(sql));
    const rows = Object.fromEntries(
      (
        await pool.query('SELECT name, spec, resource_version FROM deployments WHERE namespace = $1', [ns('scrub')])
      ).rows.map((r) => [r.name, r]),
    );
    expect(rows.foreign.spec).toEqual({ image: 'x', replicas: 1, envNames: ['DB_PASSWORD', 'TOKEN'] });
    expect(rows.foreign.resource_version).toBe('500');
    // An empty value may have been a valueFrom reference: one version back, so the next list rewrites it.
    expect(rows['ours-ref'].spec.env).toEqual(env);
    expect(rows['ours-ref'].resource_version).toBe('499');
    expect(rows['ours-plain'].resource_version).toBe('500');
    const upserted = await deployments.upsertMany([
      row(ns('scrub'), 'ours-ref', {
        labels: managed,
        spec: { image: 'x', replicas: 1, env: { TOKEN: 'secret' }, envReferences: { DB_PASSWORD: 'secretKeyRef' } },
        resourceVersion: '500',
      }),
    ]);
    expect(upserted.updated).toBe(1);
  });
});
