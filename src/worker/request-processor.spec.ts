import { jest } from '@jest/globals';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DeploymentRequestEntity, Operation, RequestStatus, SpecMode } from '../requests/deployment-request.entity.js';
import type { RequestsRepository } from '../requests/requests.repository.js';
import type { DeploymentApplier } from './deployment-applier.js';
import { RequestProcessor } from './request-processor.js';

/** An in-memory stand-in for the repository: enough to drive the processor's decisions. */
class MemoryRepo {
  rows = new Map<string, DeploymentRequestEntity>();
  add(id: string, seq: number, status = RequestStatus.QUEUED) {
    this.rows.set(id, {
      requestId: id,
      seq,
      status,
      operation: Operation.UPDATE,
      namespace: 'ns',
      name: 'web',
      spec: { replicas: seq },
      specMode: SpecMode.REPLACE,
      attempts: 0,
      deadLettered: false,
      deadlineAt: new Date(Date.now() + 60_000),
    } as DeploymentRequestEntity);
  }
  findById = async (id: string) => this.rows.get(id) ?? null;
  withTargetLock = async <T>(_ns: string, _n: string, fn: () => Promise<T>) => fn();
  claimOldestOpen = async () => {
    const r = [...this.rows.values()]
      .filter((x) => !['SUCCESS', 'FAILURE'].includes(x.status))
      .sort((a, b) => a.seq - b.seq)[0];
    if (!r) return null;
    r.status = RequestStatus.PROCESSING;
    r.attempts++;
    return r;
  };
  succeed = async (id: string) => void (this.rows.get(id)!.status = RequestStatus.SUCCESS);
  fail = async (id: string, code: string, _m: string, deadLettered: boolean) => {
    Object.assign(this.rows.get(id)!, { status: RequestStatus.FAILURE, errorCode: code, deadLettered });
  };
  noteAttemptError = async (id: string, code: string) => void (this.rows.get(id)!.errorCode = code);
}

function setup(apply: (r: DeploymentRequestEntity) => Promise<unknown>) {
  const repo = new MemoryRepo();
  const applied: string[] = [];
  const applier = {
    apply: jest.fn(async (r: DeploymentRequestEntity) => {
      applied.push(r.requestId);
      return apply(r);
    }),
  };
  const processor = new RequestProcessor(
    repo as unknown as RequestsRepository,
    applier as unknown as DeploymentApplier,
    new MetricsService(),
  );
  return { repo, applied, processor };
}

const ok = async () => ({ generation: 1, resourceVersion: '1' });

describe('RequestProcessor', () => {
  it("drains the deployment's open requests oldest first, whichever message woke it", async () => {
    const { repo, applied, processor } = setup(ok);
    repo.add('a', 1);
    repo.add('b', 2);
    repo.add('c', 3);
    await processor.process('c', { isLastAttempt: false });
    expect(applied).toEqual(['a', 'b', 'c']);
    // The older messages arrive later and find nothing to do.
    await processor.process('a', { isLastAttempt: false });
    expect(applied).toEqual(['a', 'b', 'c']);
  });

  it('ends a permanent failure at once and moves on to the next request', async () => {
    const { repo, processor } = setup(async (r) => {
      if (r.requestId === 'a') throw new DomainError(ErrorCode.Forbidden, 'not ours');
      return ok();
    });
    repo.add('a', 1);
    repo.add('b', 2);
    await processor.process('b', { isLastAttempt: false });
    expect(repo.rows.get('a')).toMatchObject({ status: 'FAILURE', errorCode: 'Forbidden', attempts: 1 });
    expect(repo.rows.get('b')).toMatchObject({ status: 'SUCCESS' });
  });

  it('hands a transient failure of its own request back to the transport for a retry', async () => {
    const { repo, processor } = setup(async () => {
      throw new DomainError(ErrorCode.KubernetesUnavailable, 'HTTP 503');
    });
    repo.add('a', 1);
    await expect(processor.process('a', { isLastAttempt: false })).rejects.toMatchObject({
      code: 'KubernetesUnavailable',
    });
    expect(repo.rows.get('a')).toMatchObject({ status: 'PROCESSING', errorCode: 'KubernetesUnavailable' });
  });

  it('dead-letters on the last attempt', async () => {
    const { repo, processor } = setup(async () => {
      throw new DomainError(ErrorCode.KubernetesUnavailable, 'HTTP 503');
    });
    repo.add('a', 1);
    await expect(processor.process('a', { isLastAttempt: true })).rejects.toMatchObject({ code: 'DeadLettered' });
    expect(repo.rows.get('a')).toMatchObject({ status: 'FAILURE', deadLettered: true });
  });

  it('stops at an older request that must retry, without failing the message that woke it', async () => {
    const { repo, applied, processor } = setup(async (r) => {
      if (r.requestId === 'a') throw new DomainError(ErrorCode.KubernetesUnavailable, 'HTTP 503');
      return ok();
    });
    repo.add('a', 1);
    repo.add('b', 2);
    await expect(processor.process('b', { isLastAttempt: false })).resolves.toBeUndefined();
    expect(applied).toEqual(['a']);
    expect(repo.rows.get('b')!.status).toBe('QUEUED');
  });

  it('fails a request that passed its deadline without applying it', async () => {
    const { repo, applied, processor } = setup(ok);
    repo.add('a', 1);
    repo.rows.get('a')!.deadlineAt = new Date(Date.now() - 1);
    await processor.process('a', { isLastAttempt: false });
    expect(applied).toEqual([]);
    expect(repo.rows.get('a')).toMatchObject({ status: 'FAILURE', errorCode: 'DeadlineExceeded' });
  });
});
