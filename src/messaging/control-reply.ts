import { DomainError, ErrorCode } from '../domain/domain-error.js';

/** The body of a reply to a control request: the handler's result, or its error's code and message. */
export type ControlReply<T = unknown> =
  | { ok: true; result: T }
  | { ok: false; error: { code: ErrorCode; message: string; details?: Record<string, unknown> } };

/** The one mapping from a @MessagePattern handler's outcome to its reply. */
export function toControlReply(outcome: { result: unknown } | { error: unknown }): ControlReply {
  if ('result' in outcome) return { ok: true, result: outcome.result };
  const e = outcome.error;
  return {
    ok: false,
    error:
      e instanceof DomainError
        ? { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) }
        : { code: ErrorCode.DependencyUnavailable, message: String(e) },
  };
}

/** The requester's side: the result, or the handler's error as a DomainError. */
export function fromControlReply<T>(reply: ControlReply<T>): T {
  if (reply.ok) return reply.result;
  throw new DomainError(
    reply.error?.code ?? ErrorCode.DependencyUnavailable,
    reply.error?.message ?? 'failed',
    reply.error?.details,
  );
}
