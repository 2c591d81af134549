import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import type { RequestPublisher } from '../messaging/request-publisher.js';
import { DeploymentRequestEntity, Operation, RequestStatus, SpecMode } from './deployment-request.entity.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { QueuedMarker } from './queued-marker.js';
import { RequestQueue } from './request-queue.js';
import type { CreatedRequest, RequestsRepository } from './requests.repository.js';

const config = {
  OUTBOX_RELAY_MIN_AGE_MS: 1_000,
  RECONCILE_STUCK_CREATED_MS: 60_000,
  RECONCILE_STALLED_MS: 300_000,
} as AppConfig;

const request = (id: string, status = RequestStatus.CREATED, generation = 0) =>
  ({
    requestId: id,
    status,
    generation,
    operation: Operation.UPDATE,
    namespace: 'ns',
    name: id,
    specMode: SpecMode.REPLACE,
    queuedAt: null,
    createdAt: new Date(),
  }) as unknown as DeploymentRequestEntity;

/** In-memory rows and the repository calls the queue makes; committed marks only. */
class MemoryRepo {
  rows = new Map<string, DeploymentRequestEntity>();
  /** The minimum ages the CREATED batches were asked for, in order. */
  createdBatches: { minAgeMs: number; limit: number }[] = [];
  busyTargets = new Set<string>();
  failed: { id: string; code: string }[] = [];

  add(r: DeploymentRequestEntity) {
    this.rows.set(r.requestId, r);
    return r;
  }
  status = (id: string) => this.rows.get(id)!.status;
  private markCreatedQueued(ids: string[]) {
    for (const id of ids) {
      const r = this.rows.get(id)!;
      if (r.status === RequestStatus.CREATED) r.status = RequestStatus.QUEUED;
    }
  }

  markQueued = async (ids: string[]) => {
    this.markCreatedQueued(ids);
    return ids.length;
  };
  withCreated = async <T>(
    minAgeMs: number,
    limit: number,
    fn: (rows: CreatedRequest[], markQueued: (ids: string[]) => Promise<void>) => Promise<T>,
  ): Promise<T> => {
    this.createdBatches.push({ minAgeMs, limit });
    const rows = [...this.rows.values()]
      .filter((r) => r.status === RequestStatus.CREATED)
      .slice(0, limit)
      .map((r) => ({ requestId: r.requestId, generation: r.generation, correlationId: r.correlationId }));
    // A transaction: marks count only when fn returns.
    let marked: string[] = [];
    const value = await fn(rows, async (ids) => void (marked = [...marked, ...ids]));
    this.markCreatedQueued(marked);
    return value;
  };
  // Snapshots, as rows read from the database are.
  findPastDeadline = async () =>
    [...this.rows.values()].filter((r) => r.status === RequestStatus.PROCESSING).map((r) => ({ ...r }));
  findStalled = async () =>
    [...this.rows.values()].filter((r) => r.status === RequestStatus.QUEUED).map((r) => ({ ...r }));
  ifTargetIdle = async <T>(_ns: string, name: string, fn: () => Promise<T>) =>
    this.busyTargets.has(name) ? undefined : fn();
  fail = async (id: string, code: string) => {
    this.failed.push({ id, code });
    this.rows.get(id)!.status = RequestStatus.FAILURE;
  };
  bumpGeneration = async (id: string) => {
    const r = this.rows.get(id)!;
    if (r.status === RequestStatus.SUCCESS || r.status === RequestStatus.FAILURE) return null;
    return ++r.generation;
  };
}

class FakePublisher {
  available = true;
  /** Publishes fail from this many successful ones on (NATS went away mid-batch). */
  failAfter = Infinity;
  published: { id: string; generation: number }[] = [];
  /** The correlation id each publish carried, by request id. */
  correlationIds = new Map<string, string | null | undefined>();
  publish = async (id: string, generation: number, correlationId?: string | null) => {
    if (this.published.length >= this.failAfter) throw new DomainError(ErrorCode.QueueUnavailable, 'publish failed');
    this.published.push({ id, generation });
    this.correlationIds.set(id, correlationId);
  };
}

function setup() {
  const repo = new MemoryRepo();
  const publisher = new FakePublisher();
  const marker = new QueuedMarker(repo as unknown as RequestsRepository);
  const queue = new RequestQueue(
    config,
    repo as unknown as RequestsRepository,
    publisher as unknown as RequestPublisher,
    marker,
    new MetricsService(),
  );
  return { repo, publisher, marker, queue };
}

describe('RequestQueue.enqueue (the intake, after its INSERT)', () => {
  it('publishes with the message generation, then marks the request QUEUED', async () => {
    const { repo, publisher, marker, queue } = setup();
    const r = repo.add(request('a', RequestStatus.CREATED, 2));
    await queue.enqueue(r);
    expect(publisher.published).toEqual([{ id: 'a', generation: 2 }]);
    expect(r.status).toBe(RequestStatus.QUEUED);
    expect(r.queuedAt).toBeInstanceOf(Date);
    await marker.flush();
    expect(repo.status('a')).toBe(RequestStatus.QUEUED);
  });

  it('leaves the request CREATED for the relay, without throwing, when NATS is down or the publish fails', async () => {
    const { repo, publisher, marker, queue } = setup();
    publisher.available = false;
    const down = repo.add(request('down'));
    await queue.enqueue(down);
    publisher.available = true;
    publisher.failAfter = 0;
    const failing = repo.add(request('failing'));
    await expect(queue.enqueue(failing)).resolves.toBeUndefined();
    await marker.flush();
    expect(publisher.published).toEqual([]);
    expect([down.status, failing.status, repo.status('down'), repo.status('failing')]).toEqual(
      Array(4).fill(RequestStatus.CREATED),
    );
  });
});

describe('RequestQueue.relay (the API relay)', () => {
  it('publishes what is left CREATED older than the relay age, batch after batch, and marks it QUEUED', async () => {
    const { repo, publisher, queue } = setup();
    for (let i = 0; i < 450; i++) repo.add(request(`r${i}`));
    repo.add(request('done', RequestStatus.SUCCESS));
    expect(await queue.relay()).toBe(450);
    expect(publisher.published.map((p) => p.id)).toEqual(Array.from({ length: 450 }, (_, i) => `r${i}`));
    expect(repo.createdBatches).toEqual([
      { minAgeMs: 1_000, limit: 200 },
      { minAgeMs: 1_000, limit: 200 },
      { minAgeMs: 1_000, limit: 200 },
    ]);
    expect([...repo.rows.values()].filter((r) => r.status === RequestStatus.CREATED)).toEqual([]);
  });

  it('does nothing while NATS is down, and stops without throwing when a publish fails, marking only what was published', async () => {
    const { repo, publisher, queue } = setup();
    repo.add(request('a'));
    repo.add(request('b'));
    publisher.available = false;
    expect(await queue.relay()).toBe(0);
    expect(repo.createdBatches).toEqual([]);

    publisher.available = true;
    publisher.failAfter = 1;
    expect(await queue.relay()).toBe(0);
    expect([repo.status('a'), repo.status('b')]).toEqual([RequestStatus.QUEUED, RequestStatus.CREATED]);
  });
});

describe("RequestQueue's recovery steps (the reconciler)", () => {
  it('republishes requests stuck CREATED past the reconciler age and counts them; a failing publish throws', async () => {
    const { repo, publisher, queue } = setup();
    repo.add(request('stuck', RequestStatus.CREATED, 1));
    expect(await queue.republishStuckCreated()).toBe(1);
    expect(repo.createdBatches).toEqual([{ minAgeMs: 60_000, limit: 500 }]);
    expect(publisher.published).toEqual([{ id: 'stuck', generation: 1 }]);
    expect(repo.status('stuck')).toBe(RequestStatus.QUEUED);

    repo.add(request('unlucky'));
    publisher.failAfter = publisher.published.length;
    await expect(queue.republishStuckCreated()).rejects.toMatchObject({ code: ErrorCode.QueueUnavailable });
    expect(repo.status('unlucky')).toBe(RequestStatus.CREATED);
  });

  it("expires overdue requests as DeadlineExceeded, unless a worker holds the deployment's lock right now", async () => {
    const { repo, queue } = setup();
    repo.add(request('idle', RequestStatus.PROCESSING));
    repo.add(request('held', RequestStatus.PROCESSING));
    repo.busyTargets.add('held');
    expect(await queue.expireOverdue()).toBe(1);
    expect(repo.failed).toEqual([{ id: 'idle', code: ErrorCode.DeadlineExceeded }]);
    expect(repo.status('held')).toBe(RequestStatus.PROCESSING);
  });

  it('requeues stalled requests under a new message generation, skipping one that finished meanwhile', async () => {
    const { repo, publisher, queue } = setup();
    repo.add(request('stalled', RequestStatus.QUEUED, 0));
    const finished = repo.add(request('finished', RequestStatus.QUEUED, 0));
    const bump = repo.bumpGeneration;
    repo.bumpGeneration = async (id) => {
      if (id === 'finished') finished.status = RequestStatus.SUCCESS;
      return bump(id);
    };
    expect(await queue.requeueStalled()).toBe(1);
    expect(publisher.published).toEqual([{ id: 'stalled', generation: 1 }]);
  });
});

describe('the correlation id', () => {
  it("travels with every publish of a request: intake, relay, the reconciler's republish and requeue", async () => {
    const { repo, publisher, queue } = setup();
    const withId = (id: string, status?: RequestStatus) =>
      repo.add(Object.assign(request(id, status), { correlationId: `corr-${id}` }));
    const carried: (string | null | undefined)[] = [];
    await queue.enqueue(withId('intake'));
    carried.push(publisher.correlationIds.get('intake'));
    withId('relayed');
    await queue.relay();
    carried.push(publisher.correlationIds.get('relayed'));
    withId('stuck');
    await queue.republishStuckCreated();
    carried.push(publisher.correlationIds.get('stuck'));
    publisher.correlationIds.clear();
    await queue.requeueStalled(); // everything above is QUEUED now
    carried.push(...['intake', 'relayed', 'stuck'].map((id) => publisher.correlationIds.get(id)));
    expect(carried).toEqual(['corr-intake', 'corr-relayed', 'corr-stuck', 'corr-intake', 'corr-relayed', 'corr-stuck']);
  });
});
