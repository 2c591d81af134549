import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { ApiRole, Principal } from '../domain/principal.js';
import { ErrorResponseDto } from '../http/api-errors.js';

export const ACCESS_METADATA = 'k8sdm:access';

/**
 * The least role a route needs. A route without @Access or @Public is admin-only, so a
 * forgotten decorator fails closed.
 */
export const Access = (role: ApiRole) =>
  applyDecorators(
    SetMetadata(ACCESS_METADATA, role),
    // OpenAPI: the bearer scheme (Swagger UI's "Authorize") and the refusals every such route may give.
    ApiBearerAuth(),
    ApiUnauthorizedResponse({
      type: ErrorResponseDto,
      description: 'code AuthenticationRequired: no API key, or a malformed, unknown, revoked or expired one',
      headers: {
        'WWW-Authenticate': { description: 'Always `Bearer`', schema: { type: 'string', example: 'Bearer' } },
      },
    }),
    ApiForbiddenResponse({
      type: ErrorResponseDto,
      description:
        role === 'admin'
          ? 'code PermissionDenied: the API key is not an admin key'
          : `code PermissionDenied: the API key's role is below ${role}, or the namespace is outside its scope`,
    }),
  );

/** Open to everybody, no key: health and readiness only. */
export const Public = () => SetMetadata(ACCESS_METADATA, 'public');

/** An HTTP request after authentication: the guard sets `principal` when the key is good. */
export interface AuthenticatedRequest extends FastifyRequest {
  principal?: Principal;
}

/** The caller of the current route; the guards have refused the call before this if there is none. */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a route without authentication');
  return principal;
});
