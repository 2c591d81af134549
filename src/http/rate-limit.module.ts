import { ExecutionContext, Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config.js';
import type { AuthenticatedRequest } from '../auth/access.decorator.js';
import { API_THROTTLER } from './rate-limit.guard.js';
import { RateLimitRepository } from './rate-limit.repository.js';

/** The limit for this call's caller: RATE_LIMIT_MAX with a valid key, RATE_LIMIT_ANONYMOUS_MAX without (0 = none). */
export const limitFor = (config: AppConfig, context: ExecutionContext): number =>
  context.switchToHttp().getRequest<AuthenticatedRequest>().principal
    ? config.RATE_LIMIT_MAX
    : config.RATE_LIMIT_ANONYMOUS_MAX;

@Module({
  providers: [RateLimitRepository],
  exports: [RateLimitRepository],
})
class RateLimitStorageModule {}

/** @nestjs/throttler on PostgreSQL storage; ApiModule registers ApiThrottlerGuard as an APP_GUARD. */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStorageModule],
      inject: [AppConfig, RateLimitRepository],
      useFactory: (config: AppConfig, storage: RateLimitRepository) => ({
        storage,
        throttlers: [
          {
            name: API_THROTTLER,
            ttl: config.RATE_LIMIT_WINDOW_MS,
            limit: (context: ExecutionContext) => limitFor(config, context),
            skipIf: (context: ExecutionContext) => limitFor(config, context) === 0,
          },
        ],
      }),
    }),
  ],
})
export class RateLimitModule {}
