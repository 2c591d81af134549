import { ApiException } from '@kubernetes/client-node';
import { DomainError, ErrorCode } from '../domain/domain-error.js';

interface StatusBody {
  message?: string;
  reason?: string;
  details?: { kind?: string; name?: string };
}

function parseBody(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body };
    }
  }
  return (body ?? {}) as StatusBody;
}

/**
 * Classifies a failed apiserver call. Transient causes (network, timeouts, 429, 5xx,
 * resourceVersion conflicts) map to retryable codes; the rest fail the request at once,
 * keeping Kubernetes' own message.
 */
export function toDomainError(e: unknown): DomainError {
  if (e instanceof DomainError) return e;
  if (e instanceof ApiException) {
    const body = parseBody(e.body);
    const message = body.message ?? e.message;
    const code = e.code;
    if (code === 404) {
      return body.details?.kind === 'namespaces'
        ? new DomainError(ErrorCode.NamespaceNotFound, message)
        : new DomainError(ErrorCode.NotFound, message);
    }
    // reason tells AlreadyExists (a create) from Conflict (a stale resourceVersion or precondition).
    if (code === 409) return new DomainError(ErrorCode.ResourceVersionConflict, message, { reason: body.reason });
    if (code === 429 || code >= 500)
      return new DomainError(ErrorCode.KubernetesUnavailable, `HTTP ${code}: ${message}`);
    // Refusals keep the apiserver's status and reason (Forbidden, Invalid, ...) for whoever is answered synchronously.
    const refusal = { kubernetes: { status: code, reason: body.reason ?? null } };
    if (code === 400 || code === 422) return new DomainError(ErrorCode.Invalid, message, refusal);
    if (code === 403) return new DomainError(ErrorCode.Forbidden, message, refusal);
    if (code === 401) return new DomainError(ErrorCode.Unauthorized, message);
    return new DomainError(ErrorCode.KubernetesError, `HTTP ${code}: ${message}`);
  }
  // No HTTP answer at all: refused, reset, DNS, TLS or our own timeout.
  return new DomainError(ErrorCode.KubernetesUnavailable, (e as Error)?.message ?? String(e));
}
