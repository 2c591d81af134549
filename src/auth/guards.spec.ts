import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ErrorCode } from '../domain/domain-error.js';
import { NamespaceScope, type ApiRole, type Principal } from '../domain/principal.js';
import { Access, Public, type AuthenticatedRequest } from './access.decorator.js';
import type { ApiKeysService } from './api-keys.service.js';
import { AuthenticationGuard } from './authentication.guard.js';
import { AuthorizationGuard } from './authorization.guard.js';

@Access('reader')
class ReadsController {
  list() {}
  @Access('writer')
  retry() {}
}

class UndecoratedController {
  anything() {}
}

@Public()
class HealthLikeController {
  healthz() {}
}

function context(cls: new () => object, method: string, req: Partial<AuthenticatedRequest>, type = 'http') {
  return {
    getType: () => type,
    getHandler: () => (cls.prototype as Record<string, unknown>)[method],
    getClass: () => cls,
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
}

const principal = (role: ApiRole): Principal => ({ keyId: 'k', keyName: 'ci', role, scope: NamespaceScope.ALL });

describe('AuthorizationGuard', () => {
  const guard = new AuthorizationGuard(new Reflector());
  const refusal = (ctx: ExecutionContext) => {
    try {
      guard.canActivate(ctx);
      return 'allowed';
    } catch (e) {
      return (e as { code: string }).code;
    }
  };

  it('refuses a call without a principal with AuthenticationRequired', () => {
    expect(refusal(context(ReadsController, 'list', {}))).toBe(ErrorCode.AuthenticationRequired);
  });

  it('compares the role with the route, the method overriding its class', () => {
    expect(refusal(context(ReadsController, 'list', { principal: principal('reader') }))).toBe('allowed');
    expect(refusal(context(ReadsController, 'retry', { principal: principal('reader') }))).toBe(
      ErrorCode.PermissionDenied,
    );
    expect(refusal(context(ReadsController, 'retry', { principal: principal('writer') }))).toBe('allowed');
    expect(refusal(context(ReadsController, 'retry', { principal: principal('admin') }))).toBe('allowed');
  });

  it('makes a route without @Access or @Public admin-only (fails closed)', () => {
    expect(refusal(context(UndecoratedController, 'anything', { principal: principal('writer') }))).toBe(
      ErrorCode.PermissionDenied,
    );
    expect(refusal(context(UndecoratedController, 'anything', { principal: principal('admin') }))).toBe('allowed');
  });

  it('lets @Public routes and message handlers of a hybrid process through without a principal', () => {
    expect(refusal(context(HealthLikeController, 'healthz', {}))).toBe('allowed');
    expect(refusal(context(UndecoratedController, 'anything', {}, 'rpc'))).toBe('allowed');
  });
});

describe('AuthenticationGuard', () => {
  const seen: string[] = [];
  const keys = {
    authenticate: (secret: string) => {
      seen.push(secret);
      return Promise.resolve(secret === 'kdm_good' ? principal('writer') : undefined);
    },
  } as unknown as ApiKeysService;
  const guard = new AuthenticationGuard(new Reflector(), keys);

  it('sets the principal of a good bearer key and refuses nothing itself', async () => {
    const good: Partial<AuthenticatedRequest> = { headers: { authorization: 'Bearer kdm_good' } };
    const bad: Partial<AuthenticatedRequest> = { headers: { authorization: 'Bearer kdm_bad' } };
    const none: Partial<AuthenticatedRequest> = { headers: {} };
    for (const req of [good, bad, none])
      expect(await guard.canActivate(context(ReadsController, 'list', req))).toBe(true);
    expect(good.principal?.role).toBe('writer');
    expect(bad.principal).toBeUndefined();
    expect(none.principal).toBeUndefined();
  });

  it('looks up no key for @Public routes or message handlers', async () => {
    seen.length = 0;
    const req: Partial<AuthenticatedRequest> = { headers: { authorization: 'Bearer kdm_good' } };
    await guard.canActivate(context(HealthLikeController, 'healthz', req));
    await guard.canActivate(context(UndecoratedController, 'anything', req, 'rpc'));
    expect(seen).toEqual([]);
    expect(req.principal).toBeUndefined();
  });
});
