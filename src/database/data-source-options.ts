import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';

/**
 * One definition of the connection, shared by the app and the migration command. Entities are
 * not listed here: each feature module registers its own (TypeOrmModule.forFeature, autoLoadEntities).
 */
export function dataSourceOptions(url: string, poolSize: number, applicationName: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    // Schema changes only ever come from committed migrations, run by `npm run migration:run`.
    synchronize: false,
    migrationsRun: false,
    applicationName,
    extra: { max: poolSize, connectionTimeoutMillis: 5000 },
  };
}
