import { randomUUID } from 'node:crypto';
import type { V1Deployment } from '@kubernetes/client-node';
import { DomainError, ErrorCode } from '../../src/domain/domain-error.js';
import { NamespaceScope, type Principal } from '../../src/domain/principal.js';
import { DeploymentsService } from '../../src/deployments/deployments.service.js';
import { Operation, SpecMode } from '../../src/requests/deployment-request.entity.js';
import { RequestsService, type SubmitCommand } from '../../src/requests/requests.service.js';
import { ReconcilerService } from '../../src/reconciler/reconciler.service.js';
import { db, eventually, http, kube, uniqueId } from '../support/harness.js';
import { useSuite } from '../support/fixture.js';

/**
 * API keys' namespace scopes in the features: writes outside the scope are 403, single reads
 * and retries outside it are the same 404 as an absent resource, lists hold only what is in
 * scope; requestedBy and per-key Idempotency-Keys; env values the mirror must never hold;
 * one manual reconcile pass however many triggers. No worker runs: requests stay queued.
 */
describe('scope', () => {
  const id = uniqueId();
  const nsA = `sc-${id}-a`;
  const nsB = `sc-${id}-b`;
  const { apps } = kube();
  const pool = db();
  const suite = useSuite({
    kubeProxy: true,
    namespaces: [nsA, nsB],
    createNamespaces: true,
    env: {
      ROLE: 'api,reconciler',
      MANAGED_NAMESPACES: `sc-${id}-*`,
      WATCH_ALL_DEPLOYMENTS: 'true',
      RECONCILE_CRON: '0 0 1 1 *',
    },
  });

  afterAll(() => pool.end());

  const principal = (name: string, patterns: string[], role: Principal['role'] = 'writer'): Principal => ({
    keyId: randomUUID(),
    keyName: name,
    role,
    scope: new NamespaceScope(patterns),
  });
  const requests = () => suite.app.app.get(RequestsService);
  const deployments = () => suite.app.app.get(DeploymentsService);
  const create = (namespace: string, name: string, requester: Principal, idempotencyKey?: string): SubmitCommand => ({
    operation: Operation.CREATE,
    namespace,
    name,
    spec: { image: 'nginx:1.27', replicas: 1 },
    specMode: SpecMode.REPLACE,
    requester,
    idempotencyKey,
  });
  /** The DomainError fn throws (fails the test when it does not throw one). */
  async function refusal(fn: () => Promise<unknown>): Promise<DomainError> {
    const e = await fn().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(DomainError);
    return e as DomainError;
  }

  describe('services, with explicit principals', () => {
    it('refuses a write outside the key scope with PermissionDenied naming the namespace and the scope, before MANAGED_NAMESPACES', async () => {
      const a = principal('team-a', [nsA]);
      const outside = await refusal(() => requests().submit(create(nsB, 'w', a)));
      expect(outside.code).toBe(ErrorCode.PermissionDenied);
      expect(outside.message).toContain(`"${nsB}"`);
      expect(outside.message).toContain(nsA);
      expect(outside.details).toEqual({ namespace: nsB, scope: [nsA] });
      // Outside both the scope and MANAGED_NAMESPACES: the scope's refusal comes first.
      const system = await refusal(() => requests().submit(create('kube-system', 'w', a)));
      expect(system.code).toBe(ErrorCode.PermissionDenied);
      // In scope but outside MANAGED_NAMESPACES: the existing refusal.
      const wide = principal('wide', ['*']);
      expect((await refusal(() => requests().submit(create(`other-${id}`, 'w', wide)))).code).toBe(
        ErrorCode.NamespaceNotAllowed,
      );
      expect(
        (await pool.query('SELECT count(*)::int AS n FROM deployment_requests WHERE name = $1', ['w'])).rows[0].n,
      ).toBe(0);
    });

    it('records requestedBy, and answers a request outside the scope exactly like an absent one (get and retry)', async () => {
      const a = principal('team-a', [nsA]);
      const b = principal('team-b', [`sc-${id}-b*`]);
      const { request } = await requests().submit(create(nsB, 'hidden', b));
      expect(request).toMatchObject({ requestedByKeyId: b.keyId, requestedByName: 'team-b', idempotencyKey: null });
      await pool.query(
        `UPDATE deployment_requests SET status = 'FAILURE', completed_at = now() WHERE request_id = $1`,
        [request.requestId],
      );

      const hidden = await refusal(() => requests().get(request.requestId, a));
      const absentId = randomUUID();
      const absent = await refusal(() => requests().get(absentId, a));
      expect(hidden.code).toBe(ErrorCode.RequestNotFound);
      expect(hidden.message).toBe(absent.message.replace(absentId, request.requestId));
      const retried = await refusal(() => requests().retry(request.requestId, a));
      expect(retried.code).toBe(ErrorCode.RequestNotFound);
      expect(retried.message).toBe(hidden.message);
      // Still FAILURE: nothing was reopened.
      expect((await requests().get(request.requestId, b)).status).toBe('FAILURE');
      expect((await requests().retry(request.requestId, b)).status).toMatch(/^(CREATED|QUEUED)$/);
    });

    it('lists only requests in the scope', async () => {
      const a = principal('team-a', [nsA]);
      const admin = principal('admin', ['*'], 'admin');
      const inA = (await requests().submit(create(nsA, 'listed', admin))).request.requestId;
      const inB = (await requests().submit(create(nsB, 'listed', admin))).request.requestId;
      const seenByA = (await requests().list(a, { name: 'listed' })).items.map((r) => r.requestId);
      expect(seenByA).toEqual([inA]);
      const seenByAll = (await requests().list(admin, { name: 'listed' })).items.map((r) => r.requestId);
      expect(seenByAll).toEqual([inB, inA]);
      expect((await requests().list(principal('none', [`zz-${id}`]), { name: 'listed' })).items).toEqual([]);
    });

    it('keeps Idempotency-Keys per API key: another key with the same key gets its own request', async () => {
      const one = principal('one', [nsA]);
      const two = principal('two', [nsA]);
      const key = `idem-${id}`;
      const first = await requests().submit(create(nsA, 'idem', one, key));
      const replay = await requests().submit(create(nsA, 'idem', one, key));
      const other = await requests().submit(create(nsA, 'idem', two, key));
      expect(first.replayed).toBe(false);
      expect(replay).toMatchObject({ replayed: true, request: { requestId: first.request.requestId } });
      // Two's request is its own, not a replay of one's (and not a 422 either).
      expect(other.replayed).toBe(false);
      expect(other.request.requestId).not.toBe(first.request.requestId);
      for (const r of [first.request, other.request]) expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);
      // A different body under one's key is still one's 422, whatever two sent.
      const reused = await refusal(() =>
        requests().submit({ ...create(nsA, 'idem', one, key), spec: { image: 'nginx:1.28', replicas: 1 } }),
      );
      expect(reused.code).toBe(ErrorCode.IdempotencyKeyReused);
    });

    it('lists and gets mirrored Deployments only in the scope; outside it, get is the same 404 as absent', async () => {
      await k8sDeployment(nsA, 'mirror-a', { managed: true });
      await k8sDeployment(nsB, 'mirror-b', { managed: true });
      await suite.app.app.get(ReconcilerService).runOnce();
      const a = principal('reader-a', [nsA], 'reader');
      const admin = principal('admin', ['*'], 'admin');
      const names = async (p: Principal) =>
        (await deployments().list({ limit: 100 }, p)).items.filter((d) => d.namespace.startsWith(`sc-${id}`));
      expect((await names(a)).map((d) => d.name)).toEqual(['mirror-a']);
      expect((await names(admin)).map((d) => d.name)).toEqual(['mirror-a', 'mirror-b']);

      expect((await deployments().get(nsA, 'mirror-a', a)).deployment.name).toBe('mirror-a');
      for (const consistency of ['eventual', 'strong'] as const) {
        const hidden = await refusal(() => deployments().get(nsB, 'mirror-b', a, consistency));
        const absent = await refusal(() => deployments().get(nsB, 'never-there', admin, consistency));
        expect({ consistency, code: hidden.code }).toEqual({ consistency, code: ErrorCode.DeploymentNotFound });
        expect(hidden.message).toBe(absent.message.replace('never-there', 'mirror-b'));
      }
    });
  });

  /** A Deployment written straight to Kubernetes; `managed` gives it our managed-by label. */
  async function k8sDeployment(namespace: string, name: string, opts: { managed: boolean; env?: unknown[] }) {
    const labels = { app: name, ...(opts.managed ? { 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' } : {}) };
    const body: V1Deployment = {
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'app', image: 'nginx:1.27', env: opts.env as never }] },
        },
      },
    };
    await apps.createNamespacedDeployment({ namespace, body });
  }

  describe('env values in the mirror', () => {
    const env = [
      { name: 'PLAIN', value: 'not-a-secret' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ];
    const row = async (namespace: string, name: string) =>
      (await pool.query('SELECT spec FROM deployments WHERE namespace = $1 AND name = $2', [namespace, name])).rows[0]
        ?.spec;

    it('keeps literal values of managed Deployments and only the names and kinds of valueFrom references', async () => {
      await k8sDeployment(nsA, 'env-managed', { managed: true, env });
      await suite.app.app.get(ReconcilerService).runOnce();
      const spec = await row(nsA, 'env-managed');
      expect(spec.env).toEqual({ PLAIN: 'not-a-secret' });
      expect(spec.envReferences).toEqual({ DB_PASSWORD: 'secretKeyRef', POD_IP: 'fieldRef' });
      const read = await http(suite.api, 'GET', `/v1/deployments/${nsA}/env-managed`);
      expect(read.body.deployment.spec).toMatchObject({ env: spec.env, envReferences: spec.envReferences });
      const strong = await http(suite.api, 'GET', `/v1/deployments/${nsA}/env-managed?consistency=strong`);
      expect(strong.body.deployment.spec).toMatchObject({ env: spec.env, envReferences: spec.envReferences });
    });

    it('stores and shows only env names of Deployments the service does not manage', async () => {
      await k8sDeployment(nsA, 'env-foreign', { managed: false, env });
      await suite.app.app.get(ReconcilerService).runOnce();
      const spec = await row(nsA, 'env-foreign');
      expect(spec.env).toBeUndefined();
      expect(spec.envReferences).toBeUndefined();
      expect(spec.envNames).toEqual(['DB_PASSWORD', 'PLAIN', 'POD_IP']);
      for (const path of [
        `/v1/deployments/${nsA}/env-foreign`,
        `/v1/deployments/${nsA}/env-foreign?consistency=strong`,
      ]) {
        const read = await http(suite.api, 'GET', path);
        expect(JSON.stringify(read.body)).not.toContain('not-a-secret');
        expect(read.body.deployment.spec.envNames).toEqual(['DB_PASSWORD', 'PLAIN', 'POD_IP']);
      }
      const list = await http(suite.api, 'GET', `/v1/deployments?namespace=${nsA}&limit=100`);
      const foreign = list.body.items.find((d: { name: string }) => d.name === 'env-foreign');
      expect(foreign.spec.envNames).toEqual(['DB_PASSWORD', 'PLAIN', 'POD_IP']);
      expect(JSON.stringify(foreign)).not.toContain('not-a-secret');
    });

    it('hides env values of an unmanaged row written before the scrub (an older watcher) on read', async () => {
      await k8sDeployment(nsB, 'env-old-row', { managed: false });
      await suite.app.app.get(ReconcilerService).runOnce();
      await pool.query(
        `UPDATE deployments SET spec = spec || '{"env": {"TOKEN": "old-secret"}}'::jsonb WHERE namespace = $1 AND name = $2`,
        [nsB, 'env-old-row'],
      );
      const read = await http(suite.api, 'GET', `/v1/deployments/${nsB}/env-old-row`);
      expect(read.status).toBe(200);
      expect(JSON.stringify(read.body)).not.toContain('old-secret');
      expect(read.body.deployment.spec.envNames).toEqual(['TOKEN']);
    });
  });

  describe('manual reconcile', () => {
    const trigger = () => http(suite.api, 'POST', '/v1/admin/reconcile');
    const runOf = async (runId: number) => (await http(suite.api, 'GET', `/v1/admin/reconcile-runs/${runId}`)).body;

    it('answers every trigger during a pass with that pass (alreadyRunning), and starts a new one after it', async () => {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      // The pass's mirror repair first reads kube-system (the cluster's uid): held, the pass stays RUNNING.
      suite.kubeProxy.inject({
        method: 'GET',
        path: /^\/api\/v1\/namespaces\/kube-system(\?|$)/,
        holdUntil: held,
        times: 1,
      });
      try {
        const answers = await Promise.all([trigger(), trigger(), trigger(), trigger(), trigger()]);
        expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
        const ids = new Set(answers.map((a) => a.body.runId));
        expect(ids.size).toBe(1);
        expect(answers.filter((a) => a.body.alreadyRunning === false)).toHaveLength(1);
        const [runId] = ids;
        // Asked directly, the reconciler names the same pass.
        const direct = await suite.app.app.get(ReconcilerService).requestManual();
        expect({ id: direct.run.id, alreadyRunning: direct.alreadyRunning }).toEqual({
          id: runId,
          alreadyRunning: true,
        });
        expect((await runOf(runId)).status).toBe('RUNNING');
        const manualRuns = await pool.query(
          `SELECT count(*)::int AS n FROM reconcile_runs WHERE trigger = 'manual' AND id >= $1`,
          [runId],
        );
        expect(manualRuns.rows[0].n).toBe(1);
        release();
        await eventually(async () => (await runOf(runId)).status === 'SUCCEEDED', 60_000);
        const next = await trigger();
        expect(next.body.alreadyRunning).toBe(false);
        expect(next.body.runId).toBeGreaterThan(runId);
        await eventually(async () => ['SUCCEEDED', 'FAILED'].includes((await runOf(next.body.runId)).status), 60_000);
      } finally {
        release();
      }
    });

    it('never answers a run a crashed reconciler left RUNNING (its session, and lock, are gone)', async () => {
      const [{ id: staleId }] = (
        await pool.query(
          `INSERT INTO reconcile_runs (trigger, status, started_at, runner_pid) VALUES ('manual', 'RUNNING', now(), pg_backend_pid()) RETURNING id`,
        )
      ).rows;
      const r = await trigger();
      expect(r.status).toBe(202);
      expect(r.body.alreadyRunning).toBe(false);
      expect(Number(r.body.runId)).not.toBe(Number(staleId));
      await eventually(async () => ['SUCCEEDED', 'FAILED'].includes((await runOf(r.body.runId)).status), 60_000);
      await pool.query(`UPDATE reconcile_runs SET status = 'FAILED', finished_at = now() WHERE id = $1`, [staleId]);
    });
  });

  // Needs the API keys of the auth part (POST /v1/api-keys and the guards); the matrix covers every route.
  describe('over HTTP, with real API keys', () => {
    async function key(name: string, role: string, namespaces: string[]) {
      const r = await http(suite.api, 'POST', '/v1/api-keys', { name: `${name}-${id}`, role, namespaces });
      expect(r.status).toBe(201);
      return { id: r.body.id as string, name: r.body.name as string, auth: { authorization: `Bearer ${r.body.key}` } };
    }
    const body = (namespace: string, name: string) => ({ namespace, name, image: 'nginx:1.27', replicas: 1 });

    it('writer: 403 outside the scope, 202 with requestedBy inside; reader: 404 for the request outside its scope', async () => {
      const writerA = await key('writer-a', 'writer', [nsA]);
      const writerB = await key('writer-b', 'writer', [nsB]);
      const readerA = await key('reader-a', 'reader', [`sc-${id}-a*`]);

      const refused = await http(suite.api, 'POST', '/v1/deployments', body(nsB, 'http-w'), writerA.auth);
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('PermissionDenied');
      expect(refused.body.message).toContain(nsB);
      expect(refused.body.message).toContain(nsA);

      const okA = await http(suite.api, 'POST', '/v1/deployments', body(nsA, 'http-w'), writerA.auth);
      expect(okA.status).toBe(202);
      expect(okA.body.requestedBy).toEqual({ keyId: writerA.id, name: writerA.name });
      const okB = await http(suite.api, 'POST', '/v1/deployments', body(nsB, 'http-w'), writerB.auth);
      expect(okB.status).toBe(202);

      const hidden = await http(suite.api, 'GET', `/v1/requests/${okB.body.requestId}`, undefined, readerA.auth);
      const absentId = randomUUID();
      const absent = await http(suite.api, 'GET', `/v1/requests/${absentId}`, undefined, readerA.auth);
      expect(hidden.status).toBe(404);
      expect(hidden.body).toEqual({
        ...absent.body,
        message: absent.body.message.replace(absentId, okB.body.requestId),
      });
      const list = await http(suite.api, 'GET', '/v1/requests?name=http-w', undefined, readerA.auth);
      expect(list.body.items.map((r: { requestId: string }) => r.requestId)).toEqual([okA.body.requestId]);
      const retry = await http(suite.api, 'POST', `/v1/requests/${okB.body.requestId}/retry`, undefined, writerA.auth);
      expect(retry.status).toBe(404);
    });

    it('two API keys sending the same Idempotency-Key get two requests; each replays its own', async () => {
      const one = await key('idem-one', 'writer', [nsA]);
      const two = await key('idem-two', 'writer', [nsA]);
      const h = (k: { auth: Record<string, string> }) => ({ ...k.auth, 'Idempotency-Key': `shared-${id}` });
      const first = await http(suite.api, 'POST', '/v1/deployments', body(nsA, 'http-idem'), h(one));
      const second = await http(suite.api, 'POST', '/v1/deployments', body(nsA, 'http-idem'), h(two));
      const again = await http(suite.api, 'POST', '/v1/deployments', body(nsA, 'http-idem'), h(two));
      expect([first.status, second.status, again.status]).toEqual([202, 202, 202]);
      expect(second.body.requestId).not.toBe(first.body.requestId);
      expect(second.headers.get('idempotent-replayed')).toBeNull();
      expect(again.body.requestId).toBe(second.body.requestId);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      // One cannot read two's record through the key either: it is another request id.
      expect(second.body.requestedBy.keyId).toBe(two.id);
    });
  });
});
