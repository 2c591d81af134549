import { ApiException } from '@kubernetes/client-node';
import { ErrorCode } from '../domain/domain-error.js';
import { toDomainError } from './kubernetes-error.js';

const api = (code: number, body: unknown) => new ApiException(code, `HTTP ${code}`, body, {});

describe('toDomainError', () => {
  it.each([
    [429, ErrorCode.KubernetesUnavailable, true],
    [503, ErrorCode.KubernetesUnavailable, true],
    [409, ErrorCode.ResourceVersionConflict, true],
    [422, ErrorCode.Invalid, false],
    [403, ErrorCode.Forbidden, false],
    [404, ErrorCode.NotFound, false],
  ])('HTTP %i → %s (retryable: %s)', (status, code, retryable) => {
    const e = toDomainError(api(status, JSON.stringify({ message: 'from apiserver' })));
    expect(e.code).toBe(code);
    expect(e.retryable).toBe(retryable);
    expect(e.message).toContain('from apiserver');
  });

  it("keeps the apiserver's status and reason on a refusal", () => {
    const body = { reason: 'Forbidden', message: 'deployments.apps "web" is forbidden: exceeded quota: q' };
    const e = toDomainError(api(403, body));
    expect(e.details).toEqual({ kubernetes: { status: 403, reason: 'Forbidden' } });
    expect(e.message).toContain('exceeded quota: q');
  });

  it('tells a missing namespace from a missing object', () => {
    expect(toDomainError(api(404, { message: 'namespaces "x" not found', details: { kind: 'namespaces' } })).code).toBe(
      ErrorCode.NamespaceNotFound,
    );
  });

  it('treats failures with no HTTP answer as transient', () => {
    const e = toDomainError(new Error('connect ECONNREFUSED 127.0.0.1:6443'));
    expect(e.code).toBe(ErrorCode.KubernetesUnavailable);
    expect(e.retryable).toBe(true);
  });
});
