import type { Provider, Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options.js';
import { uniqueId } from './harness.js';

/**
 * A Nest testing module holding only the given repositories, on the checkout's migrated test
 * database (global setup). Each module gets its own application_name, so a test can find its
 * own PostgreSQL sessions in pg_stat_activity.
 */
export async function repositoryModule(
  entities: Type[],
  providers: Provider[],
): Promise<{ module: TestingModule; applicationName: string }> {
  const applicationName = `dm-repository-${uniqueId()}`;
  const module = await Test.createTestingModule({
    imports: [
      // Entities come from forFeature below, as in the app (database/ lists none).
      TypeOrmModule.forRoot({
        ...dataSourceOptions(process.env.TEST_DATABASE_URL!, 4, applicationName),
        autoLoadEntities: true,
      }),
      TypeOrmModule.forFeature(entities),
    ],
    providers,
  }).compile();
  await module.init();
  return { module, applicationName };
}
