import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError, ErrorCode } from '../common/domain-error.js';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
const VALID_KEY = /^[\x21-\x7e]{1,255}$/;

/** The optional Idempotency-Key: 1-255 visible ASCII characters, or a 400 that says so. */
export const IdempotencyKey = createParamDecorator((_: unknown, ctx: ExecutionContext): string | undefined => {
  const value = ctx.switchToHttp().getRequest<Request>().header(IDEMPOTENCY_KEY_HEADER);
  if (value === undefined) return undefined;
  if (!VALID_KEY.test(value)) {
    throw new DomainError(
      ErrorCode.ValidationFailed,
      'Idempotency-Key must be 1-255 visible ASCII characters (no spaces)',
    );
  }
  return value;
});
