import { useSuite } from '../support/fixture.js';
import { eventually, http, kube, settled, uniqueId } from '../support/harness.js';

// Revisions folded from the request ledger, and rollback to one of them, on the real stack:
// an API and a worker applying to the real apiserver (behind the fault proxy, so a DELETE can
// be kept open). No watcher: Kubernetes is read directly.
describe('revisions and rollback', () => {
  const id = uniqueId();
  const ns = `rv-${id}`;
  const other = `rv-${id}-b`;
  const { apps } = kube();
  const suite = useSuite({
    kubeProxy: true,
    namespaces: [ns, other],
    createNamespaces: true,
    env: { ROLE: 'api,worker', MANAGED_NAMESPACES: `rv-${id}*`, JS_BACKOFF_BASE_MS: '100', JS_BACKOFF_MAX_MS: '300' },
  });
  const path = (name: string, what = '') => `/v1/deployments/${ns}/${name}${what}`;
  const live = async (name: string) => {
    const d = await apps.readNamespacedDeployment({ namespace: ns, name });
    return { image: d.spec?.template.spec?.containers[0].image, replicas: d.spec?.replicas };
  };
  async function done(res: { status: number; body: { requestId: string } }) {
    expect(res.status).toBe(202);
    const rec = await settled(suite.api, res.body.requestId);
    expect(rec.status).toBe('SUCCESS');
    return rec;
  }

  it('lists three revisions; rolling back to 1 restores its image and replicas in Kubernetes, once per Idempotency-Key', async () => {
    const create = await done(
      await http(suite.api, 'POST', '/v1/deployments', {
        namespace: ns,
        name: 'web',
        image: 'nginx:1.25',
        replicas: 1,
      }),
    );
    const put = await done(
      await http(suite.api, 'PUT', path('web'), { image: 'nginx:1.26', replicas: 2, env: { MODE: 'b' } }),
    );
    const patch = await done(await http(suite.api, 'PATCH', path('web'), { replicas: 3 }));
    expect(await live('web')).toEqual({ image: 'nginx:1.26', replicas: 3 });

    const before = await http(suite.api, 'GET', path('web', '/revisions'));
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ namespace: ns, name: 'web', current: 3 });
    expect(before.body.items.map((r: any) => [r.revision, r.line, r.requestId, r.operation, r.specMode])).toEqual([
      [1, 1, create.requestId, 'CREATE', 'REPLACE'],
      [2, 1, put.requestId, 'UPDATE', 'REPLACE'],
      [3, 1, patch.requestId, 'UPDATE', 'MERGE'],
    ]);
    expect(before.body.items.map((r: any) => r.spec)).toEqual([
      { image: 'nginx:1.25', replicas: 1 },
      { image: 'nginx:1.26', replicas: 2, env: { MODE: 'b' } },
      // The PATCH merged over revision 2: the whole spec in effect, not just the patch.
      { image: 'nginx:1.26', replicas: 3, env: { MODE: 'b' } },
    ]);
    expect(before.body.items[0].requestedBy).toEqual({ keyId: expect.any(String), name: 'ADMIN_API_KEY' });
    expect(before.body.lines).toEqual([{ line: 1, fromRevision: 1, toRevision: 3, deletedByRequestId: null }]);

    const key = { 'idempotency-key': `rollback-${id}` };
    const rb = await http(suite.api, 'POST', path('web', '/rollback'), { revision: 1 }, key);
    expect(rb.status).toBe(202);
    expect(rb.headers.get('location')).toBe(`/v1/requests/${rb.body.requestId}`);
    expect(rb.body).toMatchObject({
      operation: 'UPDATE',
      spec: { image: 'nginx:1.25', replicas: 1 },
      rollbackOf: { revision: 1, requestId: create.requestId },
    });
    const again = await http(suite.api, 'POST', path('web', '/rollback'), { revision: 1 }, key);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.requestId).toBe(rb.body.requestId);
    // The same key for another revision is another body.
    expect((await http(suite.api, 'POST', path('web', '/rollback'), { revision: 2 }, key)).status).toBe(422);

    const rolled = await settled(suite.api, rb.body.requestId);
    expect(rolled).toMatchObject({ status: 'SUCCESS', rollbackOf: { revision: 1 } });
    // REPLACE semantics: the env of revisions 2 and 3 is gone too.
    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
    expect(await live('web')).toEqual({ image: 'nginx:1.25', replicas: 1 });
    expect(d.spec?.template.spec?.containers[0].env ?? []).toEqual([]);

    const after = (await http(suite.api, 'GET', path('web', '/revisions'))).body;
    expect(after.current).toBe(4);
    expect(after.items[3]).toMatchObject({
      revision: 4,
      line: 1,
      requestId: rb.body.requestId,
      spec: { image: 'nginx:1.25', replicas: 1 },
      rollbackOf: { revision: 1, requestId: create.requestId },
    });
    const listed = (await http(suite.api, 'GET', `/v1/requests?namespace=${ns}&name=web&limit=1`)).body.items[0];
    expect(listed.rollbackOf).toEqual({ revision: 1, requestId: create.requestId });

    const audit = await suite.pool.query(
      `SELECT action, status_code, namespace, name, request_id FROM audit_log WHERE route LIKE '%/rollback' AND namespace = $1 ORDER BY id`,
      [ns],
    );
    expect(audit.rows.map((r) => [r.action, r.status_code, r.name])).toEqual([
      ['deploymentRevisions.rollback', 202, 'web'],
      ['deploymentRevisions.rollback', 202, 'web'],
      ['deploymentRevisions.rollback', 422, 'web'],
    ]);
    expect(audit.rows[0].request_id).toBe(rb.body.requestId);
  });

  it('answers 404 for a revision or a history that does not exist, and 400 for a bad body', async () => {
    await done(
      await http(suite.api, 'POST', '/v1/deployments', { namespace: ns, name: 'few', image: 'nginx:1', replicas: 1 }),
    );
    const missing = await http(suite.api, 'POST', path('few', '/rollback'), { revision: 2 });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'RevisionNotFound', details: { revisions: 1 } });
    const none = await http(suite.api, 'POST', path('never', '/rollback'), { revision: 1 });
    expect(none.status).toBe(404);
    expect(none.body.code).toBe('RevisionNotFound');
    const noHistory = await http(suite.api, 'GET', path('never', '/revisions'));
    expect(noHistory.status).toBe(404);
    expect(noHistory.body.code).toBe('DeploymentNotFound');
    for (const body of [{ revision: 0 }, { revision: 1.5 }, { revision: '1' }, {}, { revision: 1, extra: true }])
      expect((await http(suite.api, 'POST', path('few', '/rollback'), body)).status).toBe(400);
    // Nothing was queued by any of these.
    const rows = await suite.pool.query(
      `SELECT count(*)::int AS n FROM deployment_requests WHERE namespace = $1 AND name = 'few'`,
      [ns],
    );
    expect(rows.rows[0].n).toBe(1);
  });

  it('answers 409 while a DELETE is open and after it succeeded; a new CREATE starts line 2 and numbers go on', async () => {
    const first = await done(
      await http(suite.api, 'POST', '/v1/deployments', { namespace: ns, name: 'gone', image: 'nginx:1', replicas: 1 }),
    );
    // The apiserver answers the worker's DELETE with 503, so the request stays open (retrying).
    suite.kubeProxy.inject({
      method: 'DELETE',
      path: new RegExp(`/namespaces/${ns}/deployments/gone(\\?|$)`),
      status: 503,
    });
    const del = await http(suite.api, 'DELETE', path('gone'));
    expect(del.status).toBe(202);
    await eventually(
      async () => (await http(suite.api, 'GET', `/v1/requests/${del.body.requestId}`)).body.attempts > 0,
    );
    const deleting = await http(suite.api, 'POST', path('gone', '/rollback'), { revision: 1 });
    expect(deleting.status).toBe(409);
    expect(deleting.body).toMatchObject({
      code: 'DeploymentBeingDeleted',
      details: { deleteRequestId: del.body.requestId },
    });
    expect(deleting.body.details.deleteStatus).not.toMatch(/SUCCESS|FAILURE/);

    suite.kubeProxy.clear();
    expect((await settled(suite.api, del.body.requestId)).status).toBe('SUCCESS');
    const deleted = await http(suite.api, 'POST', path('gone', '/rollback'), { revision: 1 });
    expect(deleted.status).toBe(409);
    expect(deleted.body).toMatchObject({
      code: 'DeploymentBeingDeleted',
      details: { deleteRequestId: del.body.requestId, deleteStatus: 'SUCCESS' },
    });
    const ended = (await http(suite.api, 'GET', path('gone', '/revisions'))).body;
    expect(ended.current).toBeNull();
    expect(ended.lines).toEqual([{ line: 1, fromRevision: 1, toRevision: 1, deletedByRequestId: del.body.requestId }]);

    const again = await done(
      await http(suite.api, 'POST', '/v1/deployments', { namespace: ns, name: 'gone', image: 'nginx:2', replicas: 2 }),
    );
    const reborn = (await http(suite.api, 'GET', path('gone', '/revisions'))).body;
    expect(reborn.current).toBe(2);
    expect(reborn.items.map((r: any) => [r.revision, r.line, r.requestId])).toEqual([
      [1, 1, first.requestId],
      [2, 2, again.requestId],
    ]);
    // A revision of the ended line can be restored into the new one.
    const rb = await http(suite.api, 'POST', path('gone', '/rollback'), { revision: 1 });
    expect(rb.status).toBe(202);
    expect((await settled(suite.api, rb.body.requestId)).status).toBe('SUCCESS');
    expect(await live('gone')).toEqual({ image: 'nginx:1', replicas: 1 });
  });

  it('follows the roles and scopes of the other routes', async () => {
    await done(
      await http(suite.api, 'POST', '/v1/deployments', {
        namespace: ns,
        name: 'scoped',
        image: 'nginx:1',
        replicas: 1,
      }),
    );
    const key = async (body: Record<string, unknown>) => {
      const r = await http(suite.api, 'POST', '/v1/api-keys', body);
      expect(r.status).toBe(201);
      return { authorization: `Bearer ${r.body.key}` };
    };
    const reader = await key({ name: `reader-${id}`, role: 'reader', namespaces: [ns] });
    const readerElsewhere = await key({ name: `reader-b-${id}`, role: 'reader', namespaces: [other] });
    const writerElsewhere = await key({ name: `writer-b-${id}`, role: 'writer', namespaces: [other] });
    const writer = await key({ name: `writer-${id}`, role: 'writer', namespaces: [ns] });

    expect((await http(suite.api, 'GET', path('scoped', '/revisions'), undefined, reader)).status).toBe(200);
    const hidden = await http(suite.api, 'GET', path('scoped', '/revisions'), undefined, readerElsewhere);
    const absent = await http(suite.api, 'GET', path('absent', '/revisions'), undefined, readerElsewhere);
    expect(hidden.status).toBe(404);
    expect(hidden.body).toEqual({ ...absent.body, message: absent.body.message.replace('absent', 'scoped') });

    const byReader = await http(suite.api, 'POST', path('scoped', '/rollback'), { revision: 1 }, reader);
    expect(byReader.status).toBe(403);
    expect(byReader.body.code).toBe('PermissionDenied');
    const outOfScope = await http(suite.api, 'POST', path('scoped', '/rollback'), { revision: 1 }, writerElsewhere);
    expect(outOfScope.status).toBe(403);
    expect(outOfScope.body).toMatchObject({ code: 'PermissionDenied', details: { namespace: ns, scope: [other] } });
    // Out of scope is 403 before anything is read: even a revision that does not exist.
    expect((await http(suite.api, 'POST', path('scoped', '/rollback'), { revision: 9 }, writerElsewhere)).status).toBe(
      403,
    );
    expect((await http(suite.api, 'POST', path('scoped', '/rollback'), { revision: 1 })).status).toBe(202);
    expect((await http(suite.api, 'GET', path('scoped', '/revisions'), undefined, { authorization: '' })).status).toBe(
      401,
    );
    const byWriter = await http(suite.api, 'POST', path('scoped', '/rollback'), { revision: 1 }, writer);
    expect(byWriter.status).toBe(202);
    expect(byWriter.body.requestedBy.name).toBe(`writer-${id}`);
  });
});
