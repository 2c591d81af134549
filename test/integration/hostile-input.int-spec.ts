import { connect as tcpConnect } from 'node:net';
import { useSuite } from '../support/fixture.js';
import { eventually, http, uniqueId } from '../support/harness.js';

// Hostile input against the api role: every row must answer its 4xx naming the field, never
// a 5xx, and write nothing. No worker runs: nothing here reaches Kubernetes.
const ns = `hi-${uniqueId()}`;
const valid = { namespace: ns, name: 'web', image: 'nginx:1.27', replicas: 1 };
const target = `/v1/deployments/${ns}/web`;
const json = (extra: string) => `{"namespace":"${ns}","name":"web","image":"nginx:1.27","replicas":1,${extra}}`;
const cursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const nested = (depth: number) => `${'['.repeat(depth)}"x"${']'.repeat(depth)}`;

type Row = [
  label: string,
  method: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  status: number,
  field: string,
];

const rows: Row[] = [
  // NUL and lone surrogates: PostgreSQL's text and jsonb refuse them (500 before).
  ['image with NUL', 'POST', '/v1/deployments', { ...valid, image: 'nginx\u0000:1' }, {}, 400, 'image'],
  ['image with a lone surrogate', 'POST', '/v1/deployments', { ...valid, image: 'nginx:\ud800' }, {}, 400, 'image'],
  ['env name with NUL', 'POST', '/v1/deployments', { ...valid, env: { 'A\u0000': 'x' } }, {}, 400, 'env key'],
  ['env value with NUL', 'POST', '/v1/deployments', { ...valid, env: { FOO: 'a\u0000b' } }, {}, 400, 'env.FOO'],
  [
    'env value, lone low surrogate',
    'POST',
    '/v1/deployments',
    { ...valid, env: { FOO: '\udc00' } },
    {},
    400,
    'env.FOO',
  ],
  ['label key with NUL', 'POST', '/v1/deployments', { ...valid, labels: { 'a\u0000': 'b' } }, {}, 400, 'labels key'],
  [
    'label value, surrogate',
    'POST',
    '/v1/deployments',
    { ...valid, labels: { team: '\ud800' } },
    {},
    400,
    'labels.team',
  ],
  [
    'annotation key, surrogate',
    'POST',
    '/v1/deployments',
    { ...valid, annotations: { '\ud800': 'x' } },
    {},
    400,
    'annotations key',
  ],
  [
    'annotation value with NUL',
    'POST',
    '/v1/deployments',
    { ...valid, annotations: { 'example.com/a': 'x\u0000' } },
    {},
    400,
    'annotations.example.com/a',
  ],
  [
    'quantity with NUL',
    'POST',
    '/v1/deployments',
    { ...valid, resources: { requests: { cpu: '1\u0000' } } },
    {},
    400,
    'resources.requests.cpu',
  ],
  ['namespace with NUL (body)', 'POST', '/v1/deployments', { ...valid, namespace: '\u0000' }, {}, 400, 'namespace'],
  ['name with a surrogate (body)', 'POST', '/v1/deployments', { ...valid, name: 'w\udfffb' }, {}, 400, 'name'],
  ['PUT env value with NUL', 'PUT', target, { image: 'nginx', replicas: 1, env: { A: '\u0000' } }, {}, 400, 'env.A'],
  ['PATCH image with NUL', 'PATCH', target, { image: '\u0000' }, {}, 400, 'image'],
  // Keys the pipeline drops silently (__proto__, prototype, constructor: Nest; toString: class-transformer).
  ['env key prototype', 'POST', '/v1/deployments', json('"env":{"prototype":"x"}'), {}, 400, 'env key "prototype"'],
  [
    'env key __proto__',
    'POST',
    '/v1/deployments',
    json('"env":{"__proto__":{"A":"b"}}'),
    {},
    400,
    'env key "__proto__"',
  ],
  [
    'env key constructor',
    'POST',
    '/v1/deployments',
    json('"env":{"constructor":"x"}'),
    {},
    400,
    'env key "constructor"',
  ],
  [
    'label key toString',
    'POST',
    '/v1/deployments',
    json('"labels":{"toString":"x"}'),
    {},
    400,
    'labels key "toString"',
  ],
  ['top-level __proto__', 'POST', '/v1/deployments', json('"__proto__":{"replicas":1}'), {}, 400, 'key "__proto__"'],
  [
    'PATCH labels key constructor',
    'PATCH',
    target,
    '{"labels":{"constructor":"x"}}',
    {},
    400,
    'labels key "constructor"',
  ],
  // Deep nesting overflowed the transformer's stack (500 before); a huge body is 413.
  ['deeply nested env value', 'POST', '/v1/deployments', json(`"env":{"A":${nested(20_000)}}`), {}, 400, 'env.A'],
  [
    'body larger than MAX_BODY_BYTES',
    'POST',
    '/v1/deployments',
    json(`"env":{"A":"${'x'.repeat(70_000)}"}`),
    {},
    413,
    'MAX_BODY_BYTES',
  ],
  // Nulls were accepted and silently dropped the field.
  ['PATCH replicas null', 'PATCH', target, { replicas: null }, {}, 400, 'replicas must not be null'],
  ['PATCH env null', 'PATCH', target, { env: null }, {}, 400, 'env must not be null'],
  ['PATCH label value null', 'PATCH', target, { labels: { team: null } }, {}, 400, 'labels.team must not be null'],
  [
    'PATCH resources.limits null',
    'PATCH',
    target,
    { resources: { limits: null } },
    {},
    400,
    'resources.limits must not be null',
  ],
  ['PUT replicas null', 'PUT', target, { image: 'nginx', replicas: null }, {}, 400, 'replicas must not be null'],
  [
    'POST containerPort null',
    'POST',
    '/v1/deployments',
    { ...valid, containerPort: null },
    {},
    400,
    'containerPort must not be null',
  ],
  [
    'POST annotations null',
    'POST',
    '/v1/deployments',
    { ...valid, annotations: null },
    {},
    400,
    'annotations must not be null',
  ],
  ['PATCH with no field', 'PATCH', target, {}, {}, 400, 'replicas'],
  // Wrong types and ranges.
  ['replicas as a string', 'POST', '/v1/deployments', { ...valid, replicas: '3' }, {}, 400, 'replicas'],
  [
    'replicas 1e309 (Infinity)',
    'POST',
    '/v1/deployments',
    json('"replicas":1e309').replace('"replicas":1,', ''),
    {},
    400,
    'replicas',
  ],
  ['replicas a float', 'POST', '/v1/deployments', { ...valid, replicas: 1.5 }, {}, 400, 'replicas'],
  ['replicas negative', 'POST', '/v1/deployments', { ...valid, replicas: -1 }, {}, 400, 'replicas'],
  ['replicas beyond MAX_REPLICAS', 'POST', '/v1/deployments', { ...valid, replicas: 1e15 }, {}, 400, 'replicas'],
  ['containerPort negative', 'POST', '/v1/deployments', { ...valid, containerPort: -80 }, {}, 400, 'containerPort'],
  ['containerPort a float', 'POST', '/v1/deployments', { ...valid, containerPort: 80.5 }, {}, 400, 'containerPort'],
  ['containerPort as a string', 'POST', '/v1/deployments', { ...valid, containerPort: '80' }, {}, 400, 'containerPort'],
  ['env as an array', 'POST', '/v1/deployments', { ...valid, env: ['A=b'] }, {}, 400, 'env'],
  ['env value a number', 'POST', '/v1/deployments', { ...valid, env: { A: 1 } }, {}, 400, 'env'],
  ['labels as an array', 'POST', '/v1/deployments', { ...valid, labels: [] }, {}, 400, 'labels'],
  ['resources as an array', 'POST', '/v1/deployments', { ...valid, resources: [] }, {}, 400, 'resources'],
  ['body is an array', 'POST', '/v1/deployments', [valid], {}, 400, 'image'],
  ['body is a JSON string', 'POST', '/v1/deployments', '"web"', {}, 400, 'JSON'],
  ['unknown field', 'POST', '/v1/deployments', { ...valid, privileged: true }, {}, 400, 'privileged'],
  [
    'label value of 64 characters',
    'POST',
    '/v1/deployments',
    { ...valid, labels: { team: 'a'.repeat(64) } },
    {},
    400,
    'labels',
  ],
  [
    'label value of 10k characters',
    'POST',
    '/v1/deployments',
    { ...valid, labels: { team: 'a'.repeat(10_000) } },
    {},
    400,
    'labels',
  ],
  ['unicode name', 'POST', '/v1/deployments', { ...valid, name: 'wéb' }, {}, 400, 'name'],
  ['emoji namespace', 'POST', '/v1/deployments', { ...valid, namespace: '😀' }, {}, 400, 'namespace'],
  ['empty name', 'POST', '/v1/deployments', { ...valid, name: '' }, {}, 400, 'name'],
  ['name of 64 characters', 'POST', '/v1/deployments', { ...valid, name: 'a'.repeat(64) }, {}, 400, 'name'],
  ['empty image', 'POST', '/v1/deployments', { ...valid, image: '' }, {}, 400, 'image'],
  ['whitespace-only image', 'POST', '/v1/deployments', { ...valid, image: '   ' }, {}, 400, 'image'],
  ['image with a newline', 'POST', '/v1/deployments', { ...valid, image: 'nginx\n:1' }, {}, 400, 'image'],
  // JSON.parse keeps the last duplicate: the value validated is the value used.
  ['duplicate key, last one bad', 'POST', '/v1/deployments', json('"replicas":-1'), {}, 400, 'replicas'],
  [
    'content-type text/plain',
    'POST',
    '/v1/deployments',
    JSON.stringify(valid),
    { 'content-type': 'text/plain' },
    415,
    'application/json',
  ],
  ['not JSON', 'POST', '/v1/deployments', '{"image":', {}, 400, 'JSON'],
  ['Idempotency-Key not ASCII', 'POST', '/v1/deployments', valid, { 'idempotency-key': 'clé' }, 400, 'Idempotency-Key'],
  [
    'Idempotency-Key with a space',
    'POST',
    '/v1/deployments',
    valid,
    { 'idempotency-key': 'a b' },
    400,
    'Idempotency-Key',
  ],
  [
    'Idempotency-Key of 256 chars',
    'POST',
    '/v1/deployments',
    valid,
    { 'idempotency-key': 'k'.repeat(256) },
    400,
    'Idempotency-Key',
  ],
  // Path parameters (GET /v1/requests/%00 and its retry were 500).
  ['GET request %00', 'GET', '/v1/requests/%00', undefined, {}, 400, 'requestId'],
  ['retry request %00', 'POST', '/v1/requests/%00/retry', undefined, {}, 400, 'requestId'],
  ['GET request, control char', 'GET', '/v1/requests/a%07b', undefined, {}, 400, 'requestId'],
  ['GET request, space', 'GET', '/v1/requests/a%20b', undefined, {}, 400, 'requestId'],
  ['GET request, non-ASCII', 'GET', '/v1/requests/%C3%A9', undefined, {}, 400, 'requestId'],
  ['GET request, 300 chars', 'GET', `/v1/requests/${'r'.repeat(300)}`, undefined, {}, 400, 'requestId'],
  ['retry request, 300 chars', 'POST', `/v1/requests/${'r'.repeat(300)}/retry`, undefined, {}, 400, 'requestId'],
  ['GET request, invalid UTF-8 escape', 'GET', '/v1/requests/%ED%A0%80', undefined, {}, 400, ''],
  ['PUT namespace %00', 'PUT', '/v1/deployments/%00/web', { image: 'nginx', replicas: 1 }, {}, 400, 'namespace'],
  ['PATCH name %00', 'PATCH', `/v1/deployments/${ns}/%00`, { replicas: 1 }, {}, 400, 'name'],
  ['DELETE namespace %00', 'DELETE', '/v1/deployments/%00/web', undefined, {}, 400, 'namespace'],
  ['DELETE name over-long', 'DELETE', `/v1/deployments/${ns}/${'n'.repeat(300)}`, undefined, {}, 400, 'name'],
  ['GET deployment namespace %00', 'GET', '/v1/deployments/%00/web', undefined, {}, 400, 'namespace'],
  ['GET deployment name %00', 'GET', `/v1/deployments/${ns}/%00`, undefined, {}, 400, 'name'],
  ['GET deployment name over-long', 'GET', `/v1/deployments/${ns}/${'n'.repeat(300)}`, undefined, {}, 400, 'name'],
  // Reconcile run ids: beyond bigint was 500.
  ['run id beyond bigint', 'GET', '/v1/admin/reconcile-runs/99999999999999999999', undefined, {}, 400, 'id'],
  ['run id non-numeric', 'GET', '/v1/admin/reconcile-runs/abc', undefined, {}, 400, 'id'],
  ['run id negative', 'GET', '/v1/admin/reconcile-runs/-1', undefined, {}, 400, 'id'],
  ['run id hexadecimal', 'GET', '/v1/admin/reconcile-runs/0x10', undefined, {}, 400, 'id'],
  ['run id %00', 'GET', '/v1/admin/reconcile-runs/%00', undefined, {}, 400, 'id'],
  // Query parameters.
  ['requests cursor %00', 'GET', '/v1/requests?cursor=%00', undefined, {}, 400, 'cursor'],
  ['requests cursor, forged', 'GET', `/v1/requests?cursor=${cursor('\u0000')}`, undefined, {}, 400, 'cursor'],
  [
    'deployments cursor with NUL inside',
    'GET',
    `/v1/deployments?cursor=${cursor([ns, 'a\u0000'])}`,
    undefined,
    {},
    400,
    'cursor',
  ],
  [
    'deployments cursor, surrogate inside',
    'GET',
    `/v1/deployments?cursor=${cursor(['\ud800', 'a'])}`,
    undefined,
    {},
    400,
    'cursor',
  ],
  [
    'reconcile-runs cursor forged',
    'GET',
    `/v1/admin/reconcile-runs?cursor=${cursor(1e20)}`,
    undefined,
    {},
    400,
    'cursor',
  ],
  ['cursor given twice', 'GET', '/v1/requests?cursor=a&cursor=b', undefined, {}, 400, 'cursor'],
  ['label filter %00', 'GET', '/v1/deployments?label=team%3D%00', undefined, {}, 400, 'label'],
  [
    'label filter non-ASCII',
    'GET',
    `/v1/deployments?label=${encodeURIComponent('team=\u00e9')}`,
    undefined,
    {},
    400,
    'label',
  ],
  ['label filter invalid UTF-8', 'GET', '/v1/deployments?label=team%3D%ED%A0%80', undefined, {}, 400, 'label'],
  ['label filter over-long', 'GET', `/v1/deployments?label=team%3D${'v'.repeat(500)}`, undefined, {}, 400, 'label'],
  ['limit %00', 'GET', '/v1/deployments?limit=%00', undefined, {}, 400, 'limit'],
  ['limit beyond bigint', 'GET', '/v1/requests?limit=99999999999999999999', undefined, {}, 400, 'limit'],
  ['limit 1e309', 'GET', '/v1/dead-letters?limit=1e309', undefined, {}, 400, 'limit'],
  ['limit 0', 'GET', '/v1/admin/reconcile-runs?limit=0', undefined, {}, 400, 'limit'],
  ['namespace filter %00', 'GET', '/v1/requests?namespace=%00', undefined, {}, 400, 'namespace'],
  ['query key constructor', 'GET', '/v1/requests?constructor=x', undefined, {}, 400, 'constructor'],
];

describe('hostile input never gets a 5xx', () => {
  const suite = useSuite({ env: { ROLE: 'api', MANAGED_NAMESPACES: ns } });
  const requestRows = async () =>
    Number(
      (await suite.pool.query('SELECT count(*) FROM deployment_requests WHERE namespace = $1', [ns])).rows[0].count,
    );

  it.each(rows)('%s: answers its 4xx naming the field, writes nothing', async (...row) => {
    const [, method, path, body, headers, status, field] = row;
    const before = await requestRows();
    const r = await http(suite.api, method, path, body, headers);
    expect(r.status).toBeLessThan(500);
    expect({ status: r.status, message: r.body?.message }).toEqual({ status, message: expect.anything() });
    expect(JSON.stringify(r.body.message)).toContain(JSON.stringify(field).slice(1, -1));
    expect(await requestRows()).toBe(before);
  });

  it('still accepts a valid create, so the rows above were refused for their input', async () => {
    const r = await http(suite.api, 'POST', '/v1/deployments', {
      ...valid,
      env: { length: 'ok', MULTI: 'line\nvalue', EMOJI: '😀' },
      annotations: { 'example.com/note': 'ünïcode ✓' },
    });
    expect(r.status).toBe(202);
    expect(r.body.spec.env).toEqual({ length: 'ok', MULTI: 'line\nvalue', EMOJI: '😀' });
    expect(await requestRows()).toBe(1);
  });

  it('an Idempotency-Key with a NUL byte is refused by the HTTP parser with a 400', async () => {
    // fetch cannot send NUL in a header, so write the request by hand.
    const { port } = new URL(suite.api);
    const socket = tcpConnect(Number(port), '127.0.0.1');
    const reply = await new Promise<string>((resolve, reject) => {
      let data = '';
      socket.on('data', (d) => (data += d.toString('latin1')));
      socket.on('end', () => resolve(data));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
      socket.write(
        'POST /v1/deployments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          'Idempotency-Key: a\u0000b\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
        'latin1',
      );
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
  });
});

describe('PostgreSQL down', () => {
  const pgNs = `pd-${uniqueId()}`;
  const suite = useSuite({ dbProxy: true, env: { ROLE: 'api', MANAGED_NAMESPACES: pgNs } });
  const create = (name: string) =>
    http(suite.api, 'POST', '/v1/deployments', { namespace: pgNs, name, image: 'nginx:1.27', replicas: 1 });

  it('answers 503 with Retry-After and a code for reads and writes, writes nothing, and recovers', async () => {
    const first = await create('before');
    expect(first.status).toBe(202);

    suite.dbProxy.down();
    const reads = [
      `/v1/requests/${first.body.requestId}`,
      '/v1/requests',
      '/v1/deployments',
      `/v1/deployments/${pgNs}/before`,
      '/v1/admin/reconcile-runs/1',
    ];
    for (const path of reads) {
      const r = await http(suite.api, 'GET', path);
      expect({ path, status: r.status, code: r.body.code, retryAfter: r.headers.get('retry-after') }).toEqual({
        path,
        status: 503,
        code: 'DatabaseUnavailable',
        retryAfter: '5',
      });
    }
    const write = await create('during');
    expect({ status: write.status, code: write.body.code, retryAfter: write.headers.get('retry-after') }).toEqual({
      status: 503,
      code: 'DatabaseUnavailable',
      retryAfter: '5',
    });
    const patch = await http(suite.api, 'PATCH', `/v1/deployments/${pgNs}/before`, { replicas: 2 });
    expect(patch.status).toBe(503);

    suite.dbProxy.restore();
    const after = await eventually(async () => {
      const r = await create('after');
      return r.status === 202 ? r : undefined;
    });
    expect(after.body.status).toMatch(/CREATED|QUEUED/);
    expect((await http(suite.api, 'GET', `/v1/requests/${first.body.requestId}`)).status).toBe(200);
    const names = (
      await suite.pool.query('SELECT name FROM deployment_requests WHERE namespace = $1 ORDER BY seq', [pgNs])
    ).rows.map((r) => r.name);
    expect(names).toEqual(['before', 'after']);
  });
});
