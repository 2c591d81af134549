import { readFileSync } from 'node:fs';
import type { Running } from '../../src/bootstrap.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { boot, dropTopology, http, testConfig } from '../support/harness.js';

// The committed openapi.json is what clients code against; it must match what the API serves.
describe('OpenAPI document', () => {
  let config: AppConfig;
  let app: Running;

  beforeAll(async () => {
    config = testConfig({ ROLE: 'api' });
    app = await boot(config);
  });

  afterAll(async () => {
    await app?.close();
    await dropTopology(config);
  });

  it('served at /docs-json equals the committed openapi.json (run `make openapi` after API changes)', async () => {
    const served = await http(app.apiUrl!, 'GET', '/docs-json');
    expect(served.status).toBe(200);
    const committed = JSON.parse(readFileSync('openapi.json', 'utf8'));
    expect(served.body).toEqual(committed);
  });

  it('documents every endpoint with its responses and examples', async () => {
    const doc = (await http(app.apiUrl!, 'GET', '/docs-json')).body;
    const expected = {
      '/v1/deployments': ['post'],
      '/v1/deployments/{namespace}/{name}': ['put', 'patch', 'delete'],
      '/v1/requests': ['get'],
      '/v1/requests/{requestId}': ['get'],
      '/v1/requests/{requestId}/retry': ['post'],
      '/v1/dead-letters': ['get'],
      '/v1/deployments/{namespace}/{name}/revisions': ['get'],
      '/v1/deployments/{namespace}/{name}/rollback': ['post'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const m of methods) {
        const op = doc.paths[path]?.[m];
        expect(op).toBeDefined();
        expect(Object.keys(op.responses).length).toBeGreaterThanOrEqual(2);
      }
    }
    expect(doc.components.schemas.CreateDeploymentDto.properties.image.example).toBe('nginx:1.27');
    expect(doc.components.schemas.ErrorResponseDto).toBeDefined();
  });

  it('answers 405 with Allow for a method the document does not list on a known path', async () => {
    // (fetch refuses to send TRACE; schemathesis sends it in scripts/fuzz.sh.)
    const del = await http(app.apiUrl!, 'DELETE', '/v1/deployments');
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET, POST, HEAD');
    expect(del.body.code).toBe('MethodNotAllowed');
    const unknown = await http(app.apiUrl!, 'DELETE', '/v1/no-such-path');
    expect(unknown.status).toBe(404);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const res = await http(app.apiUrl!, 'POST', '/v1/deployments', 'namespace=default', {
      'content-type': 'text/plain',
    });
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ statusCode: 415, code: 'UnsupportedMediaType' });
    expect(res.body.message).toContain('text/plain');
  });

  it('types nullable fields as their type or null, and declares every /v1 error status', async () => {
    const doc = (await http(app.apiUrl!, 'GET', '/docs-json')).body;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.schemas.DeploymentPageDto.properties.nextCursor.type).toEqual(['string', 'null']);
    expect(doc.components.schemas.DeploymentRecordDto.properties.deletedAt.type).toEqual(['string', 'null']);
    expect(JSON.stringify(doc)).not.toContain('"nullable"');
    for (const [path, item] of Object.entries<Record<string, { responses: object }>>(doc.paths))
      if (path.startsWith('/v1/'))
        for (const op of Object.values(item))
          expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403', '429', '503']));
  });
});
