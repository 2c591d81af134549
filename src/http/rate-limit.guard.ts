import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { ACCESS_METADATA, type AuthenticatedRequest } from '../auth/access.decorator.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { noteRouteFacts } from './call-context.js';

/** The one throttler's name: limits are per caller over the whole API, not per route. */
export const API_THROTTLER = 'api';

/**
 * Rate limits per API key (principal.keyId, set by the authentication guard, which runs first),
 * or per source address (`ip:<address>`, TRUST_PROXY decides which) for calls without a valid
 * key, so floods of bad keys are limited too. @Public routes are not limited. Over the limit:
 * 429 RateLimited with Retry-After, through the one exception filter.
 */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
  ) {
    super(options, storage, reflector);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    // First, before anything can refuse the call: the audit trail needs the route of a refusal.
    noteRouteFacts(context, this.reflector);
    const access = this.reflector.getAllAndOverride<string | undefined>(ACCESS_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    return access === 'public';
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const r = req as unknown as AuthenticatedRequest;
    return r.principal ? `key:${r.principal.keyId}` : `ip:${r.ip ?? 'unknown'}`;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const retryAfter = Math.max(1, detail.timeToBlockExpire);
    context.switchToHttp().getResponse<FastifyReply>().header('Retry-After', String(retryAfter));
    throw new DomainError(
      ErrorCode.RateLimited,
      `rate limit of ${detail.limit} calls per ${detail.ttl} ms reached; retry after ${retryAfter} s`,
      { retryAfterSeconds: retryAfter },
    );
  }
}
