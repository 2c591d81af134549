import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { roleIncludes } from '../domain/principal.js';
import type { AuthenticatedRequest } from './access.decorator.js';
import { requiredAccess } from './access-metadata.js';

/**
 * Last of the API's guards: 401 without a principal (no key, or a malformed, unknown,
 * revoked or expired one: the answer does not say which), 403 when the key's role is below
 * the route's @Access. Namespace scope is checked by the features, which know the namespace.
 */
@Injectable()
export class AuthorizationGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(ctx: ExecutionContext): boolean {
    if (ctx.getType() !== 'http') return true;
    const needed = requiredAccess(this.reflector, ctx);
    if (needed === 'public') return true;
    const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
    if (!principal)
      throw new DomainError(
        ErrorCode.AuthenticationRequired,
        'a valid API key is required: send Authorization: Bearer <key>',
      );
    if (!roleIncludes(principal.role, needed))
      throw new DomainError(
        ErrorCode.PermissionDenied,
        `this call needs the ${needed} role; API key ${principal.keyName} has ${principal.role}`,
      );
    return true;
  }
}
