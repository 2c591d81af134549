import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { DeploymentEntity } from '../deployments/deployment.entity.js';
import { WatcherStateEntity } from '../deployments/watcher-state.entity.js';
import { DeploymentRequestEntity } from '../requests/deployment-request.entity.js';
import { ReconcileRunEntity } from '../reconciler/reconcile-run.entity.js';

export const ENTITIES = [DeploymentRequestEntity, DeploymentEntity, ReconcileRunEntity, WatcherStateEntity];

/** One definition of the connection, shared by the app and the migration command. */
export function dataSourceOptions(url: string, poolSize: number, applicationName: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    // Schema changes only ever come from committed migrations, run by `npm run migration:run`.
    synchronize: false,
    migrationsRun: false,
    applicationName,
    extra: { max: poolSize, connectionTimeoutMillis: 5000 },
  };
}
