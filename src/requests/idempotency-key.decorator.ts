import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { REQUEST_ID } from '../domain/validators.js';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** The optional Idempotency-Key: 1-255 visible ASCII characters, or a 400 that says so. */
export const IdempotencyKey = createParamDecorator((_: unknown, ctx: ExecutionContext): string | undefined => {
  const value = ctx.switchToHttp().getRequest<FastifyRequest>().headers[IDEMPOTENCY_KEY_HEADER.toLowerCase()];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !REQUEST_ID.test(value)) {
    throw new DomainError(
      ErrorCode.ValidationFailed,
      'Idempotency-Key must be 1-255 visible ASCII characters (no spaces)',
    );
  }
  return value;
});
