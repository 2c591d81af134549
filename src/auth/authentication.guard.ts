import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AuthenticatedRequest } from './access.decorator.js';
import { requiredAccess } from './access-metadata.js';
import { bearerToken } from './api-key-secret.js';
import { ApiKeysService } from './api-keys.service.js';

/**
 * First of the API's guards: sets `req.principal` when the bearer key is good, and refuses
 * nothing itself, so that the rate limiter after it counts calls with bad keys too (by
 * address) and AuthorizationGuard answers them. Only HTTP calls: message handlers of a
 * hybrid process (ROLE=all) are not the API's.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http' || requiredAccess(this.reflector, ctx) === 'public') return true;
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const secret = bearerToken(req.headers.authorization);
    if (secret) req.principal = await this.keys.authenticate(secret);
    return true;
  }
}
