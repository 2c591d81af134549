import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { NamespaceScope } from '../domain/principal.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { ApiThrottlerGuard } from './rate-limit.guard.js';

class Probe extends ApiThrottlerGuard {
  tracker(req: Record<string, unknown>) {
    return this.getTracker(req);
  }
  key(tracker: string) {
    return this.generateKey({} as ExecutionContext, tracker, 'api');
  }
  refuse(context: ExecutionContext, timeToBlockExpire: number) {
    return this.throwThrottlingException(context, {
      limit: 3,
      ttl: 1000,
      key: 'k',
      tracker: 't',
      totalHits: 4,
      timeToExpire: timeToBlockExpire,
      isBlocked: true,
      timeToBlockExpire,
    });
  }
}

describe('ApiThrottlerGuard', () => {
  const guard = new Probe({ throttlers: [] }, {} as ThrottlerStorage, new Reflector());

  it('counts per API key when the call has one, else per source address', async () => {
    const principal = { keyId: 'k-1', keyName: 'ops', role: 'admin', scope: NamespaceScope.ALL };
    expect(await guard.tracker({ principal, ip: '10.0.0.1' })).toBe('key:k-1');
    expect(await guard.tracker({ ip: '10.0.0.1' })).toBe('ip:10.0.0.1');
    // One budget per caller over the whole API, not one per route.
    expect(guard.key('key:k-1')).toBe('api:key:k-1');
  });

  it('refuses with RateLimited and a Retry-After of at least a second', async () => {
    const headers: Record<string, string> = {};
    const context = {
      switchToHttp: () => ({ getResponse: () => ({ header: (n: string, v: string) => (headers[n] = v) }) }),
    } as unknown as ExecutionContext;
    const refused = await guard.refuse(context, 0).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect((refused as DomainError).code).toBe(ErrorCode.RateLimited);
    expect(headers['Retry-After']).toBe('1');
  });
});
