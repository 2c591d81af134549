import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from './config/app-config.js';
import { bootstrap } from './bootstrap.js';
import { oneShotTask } from './app.module.js';

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
  const task = oneShotTask(config);
  if (task) {
    const { line, exitCode } = await task(running.app);
    console.log(line);
    await running.close();
    process.exit(exitCode);
  }
  // Through the app's logger, so stdout stays one JSON object per line.
  const logger = new Logger('Main');
  if (running.apiUrl)
    logger.log(`k8s-deployment-manager API on ${running.apiUrl} (Swagger UI: ${running.apiUrl}/docs)`);
  else logger.log(`k8s-deployment-manager [${config.roles.join(', ')}] health on ${running.healthUrl}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
