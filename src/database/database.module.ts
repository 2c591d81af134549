import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source-options.js';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const options = dataSourceOptions(
          config.DATABASE_URL,
          config.DATABASE_POOL_SIZE,
          `dm-${config.roles.join('+')}`,
        );
        return {
          ...options,
          // Each feature module registers its entities with forFeature: database/ imports no feature.
          autoLoadEntities: true,
          // No lock wait may outlive a request's deadline (PostgreSQL's default is to wait forever).
          extra: { ...options.extra, options: `-c lock_timeout=${config.REQUEST_DEADLINE_MS}` },
          retryAttempts: 5,
          retryDelay: 1000,
        };
      },
    }),
  ],
})
export class DatabaseModule {}
