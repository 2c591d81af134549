import 'reflect-metadata';
import { ConfigError, loadConfig } from './config/app-config.js';
import { bootstrap } from './bootstrap.js';
import { ReconcileStatus } from './reconciler/reconcile-run.entity.js';
import { ReconcilerService } from './reconciler/reconciler.service.js';

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
  if (config.RECONCILE_ONCE) {
    // The Kubernetes CronJob form: one pass, then exit 0 or 1 with the outcome.
    const run = await running.app.get(ReconcilerService).runOnce();
    console.log(`reconcile run ${run.id} ${run.status}${run.error ? `: ${run.error}` : ''}`);
    await running.close();
    process.exit(run.status === ReconcileStatus.SUCCEEDED ? 0 : 1);
  }
  if (running.apiUrl)
    console.log(`k8s-deployment-manager API on ${running.apiUrl} (Swagger UI: ${running.apiUrl}/docs)`);
  else console.log(`k8s-deployment-manager [${config.roles.join(', ')}] health on ${running.healthUrl}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
