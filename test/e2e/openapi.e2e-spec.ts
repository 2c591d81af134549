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
});
