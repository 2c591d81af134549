import 'reflect-metadata';
import { ConfigError, loadConfig } from './config/app-config.js';
import { bootstrap } from './bootstrap.js';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const running = await bootstrap(config);
  if (running.apiUrl) console.log(`k8s-deployment-manager API on ${running.apiUrl} (Swagger UI: ${running.apiUrl}/docs)`);
  else console.log(`k8s-deployment-manager [${config.roles.join(', ')}] health on ${running.healthUrl}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
