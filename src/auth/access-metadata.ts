import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { ApiRole } from '../domain/principal.js';
import { ACCESS_METADATA } from './access.decorator.js';

/** What a route needs: 'public', or the least role; a route with neither decorator needs admin (fails closed). */
export function requiredAccess(reflector: Reflector, ctx: ExecutionContext): ApiRole | 'public' {
  return (
    reflector.getAllAndOverride<ApiRole | 'public' | undefined>(ACCESS_METADATA, [ctx.getHandler(), ctx.getClass()]) ??
    'admin'
  );
}
