import { jest } from '@jest/globals';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { currentCorrelationId, withLogContext } from '../common/logging.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ShutdownSignal } from '../common/shutdown.js';
import { DeploymentRequestEntity, Operation, RequestStatus, SpecMode } from '../requests/deployment-request.entity.js';
import {
  TargetLockLost,
  type Claim,
  type RequestsRepository,
  type TargetLock,
} from '../requests/requests.repository.js';
import type { DeploymentApplier } from './deployment-applier.js';
import { RequestProcessor } from './request-processor.js';
import type { RolloutReceipts } from '../requests/rollout-receipts.service.js';

const OPEN = (r: DeploymentRequestEntity) => !['SUCCESS', 'FAILURE'].includes(r.status);

/** An in-memory stand-in for the repository and its lock session: enough to drive the processor's decisions. */
class MemoryRepo {
  rows = new Map<string, DeploymentRequestEntity>();
  busy = false;
  /** Whether the mirror has a row for the deployment, as the claim reports it. */
  mirrored = true;
  /** How often the processor read a request's state. */
  stateReads = 0;
  /** Makes every lock-session write fail from then on, as when the lock's connection dies. */
  lockLost = false;
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
      errorCode: null,
      errorMessage: null,
      retryAt: null,
      deadlineAt: new Date(Date.now() + 60_000),
      createdAt: new Date(),
    } as DeploymentRequestEntity);
  }
  findById = async (id: string) => this.rows.get(id) ?? null;
  findState = async (id: string) => {
    this.stateReads++;
    return this.rows.get(id) ?? null;
  };
  /** Like the real one: the lock is tried only for an open request, in the same read. */
  tryWithRequestTargetLock = async <T>(id: string, fn: (lock: TargetLock) => Promise<T>) => {
    const state = await this.findState(id);
    if (!state || !OPEN(state) || this.busy) return { state, attempt: { acquired: false as const } };
    return { state, attempt: { acquired: true as const, value: await fn(this.lock as never) } };
  };
  private write = () => {
    if (this.lockLost) throw new TargetLockLost('ns/web', new Error('terminated'));
  };
  lock = {
    assertHeld: async () => this.write(),
    claimOldestOpen: async (): Promise<Claim> => {
      this.write();
      const r = [...this.rows.values()].filter(OPEN).sort((a, b) => a.seq - b.seq)[0];
      const mirrored = this.mirrored;
      if (!r) return { kind: 'none', mirrored };
      const waitMs = r.retryAt ? r.retryAt.getTime() - Date.now() : 0;
      if (waitMs > 0) return { kind: 'waiting', requestId: r.requestId, waitMs, mirrored };
      Object.assign(r, { status: RequestStatus.PROCESSING, retryAt: null, attempts: r.attempts + 1 });
      return { kind: 'claimed', request: r, mirrored };
    },
    succeed: async (id: string) => {
      this.write();
      this.rows.get(id)!.status = RequestStatus.SUCCESS;
    },
    fail: async (id: string, code: string, _m: string, deadLettered: boolean) => {
      this.write();
      Object.assign(this.rows.get(id)!, { status: RequestStatus.FAILURE, errorCode: code, deadLettered });
    },
    noteAttemptError: async (id: string, code: string, message: string, retryInMs: number) => {
      this.write();
      Object.assign(this.rows.get(id)!, {
        errorCode: code,
        errorMessage: message,
        retryAt: new Date(Date.now() + retryInMs),
      });
    },
  };
}

const config = { JS_BACKOFF_BASE_MS: 1000, JS_BACKOFF_MAX_MS: 8000, WORKER_BUSY_RETRY_MS: 300 } as AppConfig;

function setup(
  apply: (r: DeploymentRequestEntity) => Promise<unknown>,
  beforeFence = () => {},
  shutdown = new ShutdownSignal(30_000),
) {
  const repo = new MemoryRepo();
  const applied: string[] = [];
  const written: string[] = [];
  const applier = {
    // Like the real applier: read, check the fence, then write.
    apply: jest.fn(async (r: DeploymentRequestEntity, fence: () => Promise<void>) => {
      applied.push(r.requestId);
      beforeFence();
      await fence();
      written.push(r.requestId);
      return apply(r);
    }),
  };
  const metrics = new MetricsService();
  const receipts = { advanceQuietly: jest.fn(async () => undefined) };
  const processor = new RequestProcessor(
    repo as unknown as RequestsRepository,
    applier as unknown as DeploymentApplier,
    metrics,
    config,
    shutdown,
    receipts as unknown as RolloutReceipts,
  );
  processor.random = () => 0.5; // no jitter
  return { repo, applied, written, processor, metrics, receipts };
}

const ok = async () => ({ generation: 1, resourceVersion: '1' });
const unavailable = () => new DomainError(ErrorCode.KubernetesUnavailable, 'HTTP 503');

describe('RequestProcessor', () => {
  it('moves the rollout receipts of the deployment after recording a SUCCESS', async () => {
    const { repo, processor, receipts } = setup(ok);
    repo.add('a', 1);
    await processor.process('a');
    expect((await repo.findById('a'))?.status).toBe(RequestStatus.SUCCESS);
    expect(receipts.advanceQuietly).toHaveBeenCalledWith([{ namespace: 'ns', name: 'web' }]);
  });

  it('leaves the receipt of a write to the watcher when the mirror has no row for the deployment yet', async () => {
    const { repo, processor, receipts } = setup(ok);
    repo.mirrored = false;
    repo.add('a', 1);
    await processor.process('a');
    expect((await repo.findById('a'))?.status).toBe(RequestStatus.SUCCESS);
    expect(receipts.advanceQuietly).not.toHaveBeenCalled();
  });

  it("moves a DELETE's receipt even with no mirror row (nothing left is GONE)", async () => {
    const { repo, processor, receipts } = setup(ok);
    repo.mirrored = false;
    repo.add('a', 1);
    repo.rows.get('a')!.operation = Operation.DELETE;
    await processor.process('a');
    expect(receipts.advanceQuietly).toHaveBeenCalledWith([{ namespace: 'ns', name: 'web' }]);
  });

  it('reads the request once when its own drain ends it, and again when someone else may have', async () => {
    const { repo, processor } = setup(ok);
    repo.add('a', 1);
    await expect(processor.process('a')).resolves.toBeUndefined();
    expect(repo.stateReads).toBe(1);
    // 'b' is finished by the drain 'c' woke, but its own message reads it (terminal) and stops there.
    repo.add('b', 2);
    repo.add('c', 3);
    await processor.process('c');
    repo.stateReads = 0;
    await expect(processor.process('b')).resolves.toBeUndefined();
    expect(repo.stateReads).toBe(1);
  });

  it("drains the deployment's open requests oldest first, whichever message woke it", async () => {
    const { repo, applied, processor } = setup(ok);
    repo.add('a', 1);
    repo.add('b', 2);
    repo.add('c', 3);
    await expect(processor.process('c')).resolves.toBeUndefined();
    expect(applied).toEqual(['a', 'b', 'c']);
    // The older messages arrive later and find nothing to do.
    await expect(processor.process('a')).resolves.toBeUndefined();
    expect(applied).toEqual(['a', 'b', 'c']);
  });

  it('once shutdown begins, finishes the request in hand, starts no other, and answers retry-later', async () => {
    const shutdown = new ShutdownSignal(30_000);
    const { repo, applied, processor } = setup(
      async () => {
        shutdown.begin(); // SIGTERM arrives during the first apply
        return ok();
      },
      undefined,
      shutdown,
    );
    repo.add('a', 1);
    repo.add('b', 2);
    const answer = await processor.process('b');
    expect(applied).toEqual(['a']);
    expect(repo.rows.get('a')!.status).toBe(RequestStatus.SUCCESS);
    expect(repo.rows.get('b')!.status).toBe(RequestStatus.QUEUED);
    expect(answer).toMatchObject({ retryAfterMs: 300 });
  });

  it("logs each request it applies under that request's correlation id, not the one of the message that woke it", async () => {
    const seen: Record<string, string | undefined> = {};
    const { repo, processor } = setup(async (r) => {
      seen[r.requestId] = currentCorrelationId();
      return ok();
    });
    repo.add('a', 1);
    repo.add('b', 2);
    for (const id of ['a', 'b']) repo.rows.get(id)!.correlationId = `corr-${id}`;
    // As the transport runs it: in the context of the message's headers (b's).
    await withLogContext({ requestId: 'b', correlationId: 'corr-b' }, () => processor.process('b'));
    expect(seen).toEqual({ a: 'corr-a', b: 'corr-b' });
  });

  it('ends a permanent failure at once and moves on to the next request', async () => {
    const { repo, processor } = setup(async (r) => {
      if (r.requestId === 'a') throw new DomainError(ErrorCode.Forbidden, 'not ours');
      return ok();
    });
    repo.add('a', 1);
    repo.add('b', 2);
    await processor.process('b');
    expect(repo.rows.get('a')).toMatchObject({ status: 'FAILURE', errorCode: 'Forbidden', attempts: 1 });
    expect(repo.rows.get('b')).toMatchObject({ status: 'SUCCESS' });
  });

  it('answers a transient failure of its own request with a retry after the backoff, and records when', async () => {
    const { repo, processor } = setup(async () => {
      throw unavailable();
    });
    repo.add('a', 1);
    const before = Date.now();
    const later = await processor.process('a');
    expect(later?.reason).toBe('KubernetesUnavailable: HTTP 503');
    // First attempt: the base delay (jitter stubbed to none), plus one busy delay so the retry lands after retry_at.
    expect(later?.retryAfterMs).toBe(1000 + 300);
    const row = repo.rows.get('a')!;
    expect(row).toMatchObject({ status: 'PROCESSING', errorCode: 'KubernetesUnavailable' });
    expect(row.retryAt!.getTime()).toBeGreaterThanOrEqual(before + 1000);
  });

  it('does not retry a request before its retry time, whichever message comes', async () => {
    const { repo, applied, processor } = setup(ok);
    repo.add('a', 1);
    repo.add('b', 2);
    repo.rows.get('a')!.retryAt = new Date(Date.now() + 5000);
    const later = await processor.process('b');
    expect(applied).toEqual([]);
    expect(later?.retryAfterMs).toBeGreaterThan(4000);
    expect(repo.rows.get('b')!.status).toBe('QUEUED');
  });

  it('keeps the message of a request blocked behind an older failing one (no ack while it is open)', async () => {
    const { repo, applied, processor } = setup(async (r) => {
      if (r.requestId === 'a') throw unavailable();
      return ok();
    });
    repo.add('a', 1);
    repo.add('b', 2);
    const later = await processor.process('b');
    expect(applied).toEqual(['a']);
    expect(later).toMatchObject({ reason: 'waiting behind an older request' });
    expect(repo.rows.get('b')!.status).toBe('QUEUED');
  });

  it('dead-letters when the next retry would fall after the deadline, then drains the rest', async () => {
    const { repo, applied, processor } = setup(async (r) => {
      if (r.requestId === 'a') throw unavailable();
      return ok();
    });
    repo.add('a', 1);
    repo.add('b', 2);
    repo.rows.get('a')!.deadlineAt = new Date(Date.now() + 500); // less than the 1 s backoff
    await expect(processor.process('a')).rejects.toMatchObject({ code: 'DeadLettered' });
    expect(repo.rows.get('a')).toMatchObject({
      status: 'FAILURE',
      deadLettered: true,
      errorCode: 'KubernetesUnavailable',
    });
    expect(applied).toEqual(['a', 'b']);
    expect(repo.rows.get('b')!.status).toBe('SUCCESS');
    // A redelivery of the dead-lettered request's message still goes to the dead letters.
    await expect(processor.process('a')).rejects.toMatchObject({ code: 'DeadLettered' });
  });

  it('keeps retrying while the deadline allows, however many attempts that takes', async () => {
    const { repo, processor } = setup(async () => {
      throw unavailable();
    });
    repo.add('a', 1);
    repo.rows.get('a')!.attempts = 50;
    repo.rows.get('a')!.deadlineAt = new Date(Date.now() + 60_000);
    await expect(processor.process('a')).resolves.toMatchObject({ reason: 'KubernetesUnavailable: HTTP 503' });
    expect(repo.rows.get('a')).toMatchObject({ status: 'PROCESSING', attempts: 51, deadLettered: false });
  });

  it('answers a busy deployment with a short jittered retry and touches nothing', async () => {
    const { repo, applied, processor } = setup(ok);
    repo.add('a', 1);
    repo.busy = true;
    processor.random = () => 0;
    expect(await processor.process('a')).toEqual({ retryAfterMs: 150, reason: 'ns/web is busy' });
    processor.random = () => 0.999;
    expect((await processor.process('a'))!.retryAfterMs).toBe(450);
    expect(applied).toEqual([]);
    expect(repo.rows.get('a')).toMatchObject({ status: 'QUEUED', attempts: 0 });
  });

  it('stops at once, marking nothing, when the lock is lost during an apply', async () => {
    const { repo, applied, processor } = setup(async () => {
      repo.lockLost = true;
      return ok();
    });
    repo.add('a', 1);
    repo.add('b', 2);
    await expect(processor.process('b')).rejects.toThrow(/lost the lock/);
    expect(applied).toEqual(['a']);
    expect(repo.rows.get('a')!.status).toBe('PROCESSING');
    expect(repo.rows.get('b')!.status).toBe('QUEUED');
  });

  it('writes nothing to Kubernetes when the lock is lost between the read and the write', async () => {
    const { repo, written, processor } = setup(ok, () => {
      repo.lockLost = true;
    });
    repo.add('a', 1);
    await expect(processor.process('a')).rejects.toBeInstanceOf(TargetLockLost);
    expect(written).toEqual([]);
    expect(repo.rows.get('a')).toMatchObject({ status: 'PROCESSING', errorCode: null });
  });

  it('fails a request that passed its deadline without applying it', async () => {
    const { repo, applied, processor } = setup(ok);
    repo.add('a', 1);
    repo.rows.get('a')!.deadlineAt = new Date(Date.now() - 1);
    await processor.process('a');
    expect(applied).toEqual([]);
    expect(repo.rows.get('a')).toMatchObject({ status: 'FAILURE', errorCode: 'DeadlineExceeded' });
  });

  it('records each message by outcome, lock waits by acquired, and the accepted-to-terminal latency by operation', async () => {
    const { repo, processor, metrics } = setup(ok);
    repo.add('a', 1);
    repo.rows.get('a')!.createdAt = new Date(Date.now() - 30_000);
    repo.busy = true;
    await processor.process('a');
    repo.busy = false;
    await processor.process('a');
    await processor.process('a');
    const count = async (h: { get(): Promise<{ values: { metricName?: string; labels: object; value: number }[] }> }) =>
      (await h.get()).values
        .filter((v) => v.metricName?.endsWith('_count'))
        .map((v) => ({ labels: v.labels, value: v.value }));
    expect(await count(metrics.workerProcessingSeconds)).toEqual([
      { labels: { outcome: 'busy' }, value: 1 },
      { labels: { outcome: 'finished' }, value: 2 },
    ]);
    expect(await count(metrics.workerLockWaitSeconds)).toEqual([
      { labels: { acquired: 'false' }, value: 1 },
      { labels: { acquired: 'true' }, value: 1 },
    ]);
    const latency = (await metrics.requestLatencySeconds.get()).values;
    expect(latency.find((v) => v.metricName?.endsWith('_count'))).toMatchObject({
      labels: { operation: 'UPDATE', status: 'SUCCESS' },
      value: 1,
    });
    // Observed from acceptance: the 30 s the request waited count, so it falls in no bucket below 30.
    expect(latency.find((v) => (v.labels as { le?: number }).le === 10)).toMatchObject({ value: 0 });
    expect(latency.find((v) => (v.labels as { le?: number }).le === 60)).toMatchObject({ value: 1 });
  });
});
