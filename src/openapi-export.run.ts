import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { loadConfig } from './config/app-config.js';
import { bootstrap } from './bootstrap.js';
import { buildOpenApi } from './openapi.js';
import type { INestApplication } from '@nestjs/common';

/** `npm run openapi:export`: writes the API's OpenAPI document to openapi.json (committed; CI checks drift). */
async function main() {
  const config = loadConfig();
  Object.assign(config, { roles: ['api'], ROLE: 'api', HTTP_PORT: 0, HEALTH_PORT: 0, LOG_LEVEL: 'warn' });
  const running = await bootstrap(config);
  try {
    const doc = buildOpenApi(running.app as INestApplication);
    writeFileSync('openapi.json', `${JSON.stringify(doc, null, 2)}\n`);
    console.log(`wrote openapi.json (${Object.keys(doc.paths).length} paths)`);
  } finally {
    await running.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
