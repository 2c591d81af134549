import { AsyncLocalStorage } from 'node:async_hooks';
import { jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { RequestProcessor } from '../../src/worker/request-processor.js';
import { db, deleteNamespace, eventually, http, kube, settled, uniqueId } from '../support/harness.js';
import { useSuite } from '../support/fixture.js';

// The request pipeline on the real stack: API → PostgreSQL → JetStream → worker → kube-apiserver.
describe('request pipeline', () => {
  const ns = `pl-${uniqueId()}`;
  const { apps, core } = kube();
  const pool = db();
  const suite = useSuite({
    namespaces: [ns],
    env: {
      ROLE: 'api,worker',
      MANAGED_NAMESPACES: `${ns},${ns}-x*`,
      JS_BACKOFF_BASE_MS: '200',
      MAX_REPLICAS: '50',
    },
  });

  afterAll(async () => {
    await pool.end();
  });

  const read = (name: string) => apps.readNamespacedDeployment({ namespace: ns, name });

  it('CREATE, PUT, PATCH and DELETE each reach SUCCESS and change Kubernetes as asked', async () => {
    const created = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'web',
      image: 'nginx:1.27',
      replicas: 2,
      containerPort: 8080,
      env: { MODE: 'prod' },
      labels: { team: 'payments' },
      annotations: { 'example.com/owner': 'alice' },
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({
      operation: 'CREATE',
      namespace: ns,
      name: 'web',
      attempts: 0,
      deadLettered: false,
    });
    // The answer is the record as intake left it: published, so QUEUED (a worker's progress comes later).
    expect(created.body.status).toBe('QUEUED');
    expect(created.headers.get('location')).toBe(`/v1/requests/${created.body.requestId}`);

    const done = await settled(suite.api, created.body.requestId);
    expect(done).toMatchObject({ status: 'SUCCESS', attempts: 1 });
    expect(done.result.generation).toBe(1);
    let d = await read('web');
    expect(d.spec?.replicas).toBe(2);
    expect(d.spec?.template.spec?.containers[0].image).toBe('nginx:1.27');
    expect(d.metadata?.labels).toMatchObject({
      team: 'payments',
      'app.kubernetes.io/managed-by': 'k8s-deployment-manager',
    });
    expect(d.metadata?.annotations?.['k8s-deployment-manager.io/request-id']).toBe(created.body.requestId);

    const replaced = await http(suite.api, 'PUT', `/v1/deployments/${ns}/web`, { image: 'nginx:1.28', replicas: 3 });
    expect(replaced.status).toBe(202);
    expect((await settled(suite.api, replaced.body.requestId)).status).toBe('SUCCESS');
    d = await read('web');
    expect(d.spec?.replicas).toBe(3);
    expect(d.spec?.template.spec?.containers[0].image).toBe('nginx:1.28');
    // PUT replaces the whole spec: what it left out is gone.
    expect(d.spec?.template.spec?.containers[0].env ?? []).toEqual([]);
    expect(d.metadata?.labels?.team).toBeUndefined();

    const patched = await http(suite.api, 'PATCH', `/v1/deployments/${ns}/web`, {
      replicas: 1,
      labels: { tier: 'web' },
    });
    expect(patched.status).toBe(202);
    expect(patched.body).toMatchObject({ operation: 'UPDATE', spec: { replicas: 1, labels: { tier: 'web' } } });
    expect((await settled(suite.api, patched.body.requestId)).status).toBe('SUCCESS');
    d = await read('web');
    expect(d.spec?.replicas).toBe(1);
    expect(d.spec?.template.spec?.containers[0].image).toBe('nginx:1.28');
    expect(d.metadata?.labels?.tier).toBe('web');
    expect(d.metadata?.annotations?.['k8s-deployment-manager.io/request-id']).toBe(patched.body.requestId);

    const deleted = await http(suite.api, 'DELETE', `/v1/deployments/${ns}/web`);
    expect(deleted.status).toBe(202);
    expect((await settled(suite.api, deleted.body.requestId)).status).toBe('SUCCESS');
    await expect(read('web')).rejects.toMatchObject({ code: 404 });

    // Deleting what is already gone is SUCCESS too.
    const again = await http(suite.api, 'DELETE', `/v1/deployments/${ns}/web`);
    expect((await settled(suite.api, again.body.requestId)).status).toBe('SUCCESS');

    const listed = await http(suite.api, 'GET', `/v1/requests?namespace=${ns}&name=web&limit=2`);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((r: { requestId: string }) => r.requestId)).toEqual([
      again.body.requestId,
      deleted.body.requestId,
    ]);
    const next = await http(
      suite.api,
      'GET',
      `/v1/requests?namespace=${ns}&name=web&limit=2&cursor=${listed.body.nextCursor}`,
    );
    expect(next.body.items.map((r: { requestId: string }) => r.requestId)).toEqual([
      patched.body.requestId,
      replaced.body.requestId,
    ]);
  });

  /**
   * Records the SQL of each message the suite's worker processes, statement by statement: the
   * statements sent by any query runner while that message's process() runs (an async context,
   * so the API's statements in the same app are not counted).
   */
  function recordWorkerSql() {
    const processor = suite.app.app.get(RequestProcessor);
    const runner = Object.getPrototypeOf(suite.app.app.get(DataSource).createQueryRunner()) as {
      query: (sql: string, ...rest: unknown[]) => Promise<unknown>;
    };
    const messages: { requestId: string; sql: string[]; done: boolean }[] = [];
    const current = new AsyncLocalStorage<string[]>();
    const send = runner.query;
    const query = jest.spyOn(runner, 'query').mockImplementation(function (
      this: unknown,
      sql: string,
      ...rest: unknown[]
    ) {
      current.getStore()?.push(sql);
      return send.call(this, sql, ...rest);
    });
    const process = RequestProcessor.prototype.process;
    const spy = jest.spyOn(processor, 'process').mockImplementation((requestId: string) => {
      const message = { requestId, sql: [] as string[], done: false };
      messages.push(message);
      return current.run(message.sql, () => process.call(processor, requestId)).finally(() => (message.done = true));
    });
    return {
      messages,
      restore: () => {
        spy.mockRestore();
        query.mockRestore();
      },
    };
  }

  /** A statement by what it is for. */
  const statementKind = (sql: string) =>
    /pg_try_advisory_lock/.test(sql)
      ? 'read, locking if open'
      : /^WITH head AS/.test(sql)
        ? 'claim, unlocking if empty'
        : /^SELECT 1$/.test(sql)
          ? 'fence'
          : /SET status = 'SUCCESS'/.test(sql)
            ? 'SUCCESS'
            : sql.replace(/\s+/g, ' ').slice(0, 60);

  it('the worker sends 5 SQL statements for a CREATE, and 1 for the message of a request already finished', async () => {
    // The namespace exists however the tests run, so the create is one write with one fence.
    await core.createNamespace({ body: { metadata: { name: ns } } }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
    const recorded = recordWorkerSql();
    try {
      const r = await http(suite.api, 'POST', '/v1/deployments', {
        namespace: ns,
        name: 'counted',
        image: 'nginx:1.27',
        replicas: 1,
      });
      expect((await settled(suite.api, r.body.requestId)).status).toBe('SUCCESS');
      // Only this request's messages count: the suites share one database, so this suite's relay
      // may publish another suite's request, left CREATED, to this suite's stream meanwhile.
      const mine = () => recorded.messages.filter((m) => m.requestId === r.body.requestId);
      // The message's process() goes on after SUCCESS is visible: its last claim ends the drain.
      const [message] = await eventually(async () => mine().length > 0 && mine().every((m) => m.done) && mine());
      expect(mine()).toHaveLength(1);
      // The lock is taken in the first read and given back by the claim that finds the queue empty.
      expect(message.sql.map(statementKind)).toEqual([
        'read, locking if open',
        'claim, unlocking if empty',
        'fence',
        'SUCCESS',
        'claim, unlocking if empty',
      ]);

      // A redelivered message of a finished request: one read, and no lock is taken (none to give back).
      await suite.app.app.get(RequestProcessor).process(r.body.requestId);
      expect(mine()).toHaveLength(2);
      expect(mine()[1].sql.map(statementKind)).toEqual(['read, locking if open']);
    } finally {
      recorded.restore();
    }
  });

  it('creates a missing namespace (CREATE_NAMESPACES defaults on)', async () => {
    const other = `${ns}-x1`;
    try {
      const r = await http(suite.api, 'POST', '/v1/deployments', {
        namespace: other,
        name: 'svc',
        image: 'busybox:1',
        replicas: 0,
      });
      expect((await settled(suite.api, r.body.requestId)).status).toBe('SUCCESS');
      expect((await apps.readNamespacedDeployment({ namespace: other, name: 'svc' })).spec?.replicas).toBe(0);
    } finally {
      await deleteNamespace(other);
    }
  });

  it('honours Idempotency-Key: one request, one Kubernetes write; another body under the key is 422', async () => {
    const key = `key-${uniqueId()}`;
    const body = { namespace: ns, name: 'idem', image: 'nginx:1.27', replicas: 1 };
    const first = await http(suite.api, 'POST', '/v1/deployments', body, { 'Idempotency-Key': key });
    const second = await http(suite.api, 'POST', '/v1/deployments', { ...body }, { 'Idempotency-Key': key });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    // The requestId is the server's UUID, never the key; the replay answers the same record.
    expect(first.body.requestId).not.toBe(key);
    expect(second.body.requestId).toBe(first.body.requestId);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    await settled(suite.api, first.body.requestId);
    const third = await http(suite.api, 'POST', '/v1/deployments', body, { 'Idempotency-Key': key });
    expect(third.body).toMatchObject({ requestId: first.body.requestId, status: 'SUCCESS', attempts: 1 });

    const rows = await pool.query('SELECT count(*)::int AS n FROM deployment_requests WHERE idempotency_key = $1', [
      key,
    ]);
    expect(rows.rows[0].n).toBe(1);
    const d = await read('idem');
    expect(d.metadata?.generation).toBe(1);
    const writes = (d.metadata?.managedFields ?? []).filter((f) => f.manager === 'k8s-deployment-manager');
    expect(writes).toHaveLength(1);

    const conflict = await http(
      suite.api,
      'POST',
      '/v1/deployments',
      { ...body, replicas: 2 },
      { 'Idempotency-Key': key },
    );
    expect(conflict.status).toBe(422);
    expect(conflict.body).toMatchObject({
      statusCode: 422,
      error: 'Unprocessable Entity',
      code: 'IdempotencyKeyReused',
    });

    const badKey = await http(suite.api, 'POST', '/v1/deployments', body, { 'Idempotency-Key': 'x'.repeat(256) });
    expect(badKey.status).toBe(400);
    expect(badKey.body.message).toContain('Idempotency-Key');
  });

  it('answers 400 naming each bad field, 403 for disallowed namespaces, 413 for large bodies', async () => {
    const bad = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: 'Bad_NS',
      name: '-web',
      image: 'nginx 1.27',
      replicas: 51,
      containerPort: 70000,
      env: { '1BAD': 'x' },
      resources: { requests: { cpu: 'lots' }, limits: { memory: '1GB' } },
      labels: { 'bad key!': 'v' },
      annotations: { 'a/b/c': 'v' },
      extra: true,
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    const text = (bad.body.message as string[]).join('\n');
    for (const field of [
      'namespace',
      'name',
      'image',
      'replicas',
      'containerPort',
      'env',
      'resources.requests.cpu',
      'resources.limits.memory',
      'labels',
      'annotations',
      'extra',
    ]) {
      expect(text).toContain(field);
    }
    expect(text).toContain('MAX_REPLICAS');

    const missing = await http(suite.api, 'POST', '/v1/deployments', { namespace: ns, name: 'x' });
    expect(missing.status).toBe(400);
    expect((missing.body.message as string[]).join('\n')).toMatch(/image[\s\S]*replicas|replicas[\s\S]*image/);

    const notJson = await http(suite.api, 'POST', '/v1/deployments', '{"namespace":');
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toMatch(/not valid JSON/);

    const emptyPatch = await http(suite.api, 'PATCH', `/v1/deployments/${ns}/web`, {});
    expect(emptyPatch.status).toBe(400);

    const badPath = await http(suite.api, 'PUT', `/v1/deployments/${ns}/Web_1`, { image: 'nginx', replicas: 1 });
    expect(badPath.status).toBe(400);
    expect(badPath.body.message.join('\n')).toContain('name must be a DNS-1123 label');

    const forbidden = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: 'elsewhere',
      name: 'web',
      image: 'nginx',
      replicas: 1,
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.message).toContain('MANAGED_NAMESPACES');
    const system = await http(suite.api, 'DELETE', '/v1/deployments/kube-system/coredns');
    expect(system.status).toBe(403);
    expect(system.body.message).toContain('system namespace');

    const big = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'big',
      image: 'nginx',
      replicas: 1,
      annotations: { 'example.com/blob': 'x'.repeat(70_000) },
    });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ statusCode: 413, code: 'PayloadTooLarge' });

    // Nothing invalid was recorded.
    const rows = await pool.query(
      `SELECT count(*)::int AS n FROM deployment_requests WHERE name IN ('big', 'x') OR namespace = 'elsewhere'`,
    );
    expect(rows.rows[0].n).toBe(0);
  });

  it('answers 404 for an unknown request and 409 when retrying one that did not fail', async () => {
    expect((await http(suite.api, 'GET', '/v1/requests/does-not-exist')).status).toBe(404);
    const r = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'noretry',
      image: 'nginx',
      replicas: 0,
    });
    await settled(suite.api, r.body.requestId);
    const retry = await http(suite.api, 'POST', `/v1/requests/${r.body.requestId}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe('RequestNotRetryable');
  });

  it('never touches a Deployment it does not manage', async () => {
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'foreign' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'foreign' } },
          template: { metadata: { labels: { app: 'foreign' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
        },
      },
    });
    const create = await settled(
      suite.api,
      (await http(suite.api, 'POST', '/v1/deployments', { namespace: ns, name: 'foreign', image: 'evil', replicas: 9 }))
        .body.requestId,
    );
    expect(create).toMatchObject({ status: 'FAILURE', error: { code: 'Conflict' } });
    const update = await settled(
      suite.api,
      (await http(suite.api, 'PUT', `/v1/deployments/${ns}/foreign`, { image: 'evil', replicas: 9 })).body.requestId,
    );
    expect(update).toMatchObject({ status: 'FAILURE', error: { code: 'Forbidden' } });
    const del = await settled(
      suite.api,
      (await http(suite.api, 'DELETE', `/v1/deployments/${ns}/foreign`)).body.requestId,
    );
    expect(del).toMatchObject({ status: 'FAILURE', error: { code: 'Forbidden' } });
    const d = await read('foreign');
    expect(d.spec?.replicas).toBe(1);
    expect(d.spec?.template.spec?.containers[0].image).toBe('nginx');
  });

  it('fails at once, without retry, on a permanent error', async () => {
    const missing = await settled(
      suite.api,
      (await http(suite.api, 'PATCH', `/v1/deployments/${ns}/never-created`, { replicas: 2 })).body.requestId,
    );
    expect(missing).toMatchObject({ status: 'FAILURE', attempts: 1, deadLettered: false, error: { code: 'NotFound' } });

    // kube-apiserver's own validation: requests above limits.
    const invalid = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'invalid',
      image: 'nginx',
      replicas: 1,
      resources: { requests: { cpu: '2' }, limits: { cpu: '1' } },
    });
    const done = await settled(suite.api, invalid.body.requestId);
    expect(done).toMatchObject({ status: 'FAILURE', attempts: 1, deadLettered: false, error: { code: 'Invalid' } });
    expect(done.error.message).toMatch(/must be less than or equal to cpu limit/);
  });
});
