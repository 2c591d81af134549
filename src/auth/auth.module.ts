import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config.js';
import { ApiKeyEntity } from './api-key.entity.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { API_KEYS_OPTIONS, ApiKeysOptions, ApiKeysService } from './api-keys.service.js';

/** API keys and the guards that use them; api.module.ts registers the guards as APP_GUARD, in order. */
@Module({
  imports: [TypeOrmModule.forFeature([ApiKeyEntity])],
  controllers: [ApiKeysController],
  providers: [
    ApiKeysRepository,
    ApiKeysService,
    {
      provide: API_KEYS_OPTIONS,
      inject: [AppConfig],
      useFactory: (c: AppConfig): ApiKeysOptions => ({ cacheMs: c.API_KEY_CACHE_MS, adminApiKey: c.ADMIN_API_KEY }),
    },
  ],
  exports: [ApiKeysService],
})
export class AuthModule {}
