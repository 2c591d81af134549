import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import type { DeploymentsRepository } from '../deployments/deployments.repository.js';
import type { MirrorRow } from '../deployments/mirror-row.mapper.js';
import type { MirrorSyncService, RelistReason } from '../deployments/mirror-sync.service.js';
import type { WatchScope } from './watch-scope.js';
import type { WatcherStateRepository } from './watcher-state.repository.js';
import type {
  DeploymentObject,
  DeploymentWatchEnd,
  DeploymentWatchEvent,
  DeploymentWatchOptions,
  KubernetesGateway,
} from '../kubernetes/kubernetes.gateway.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DeploymentStream } from './deployment-stream.js';

const scope: WatchScope = { key: 'deployments ns=default', namespace: 'default', labelSelector: 'x=y' };

/** A watch the test drives: emit events, then end it with a reason. */
class FakeWatch {
  emit!: (e: DeploymentWatchEvent) => void;
  end!: (e: DeploymentWatchEnd) => void;
  stopped = false;
  constructor(readonly opts: DeploymentWatchOptions) {}
}

function deployment(name: string, rv: string): DeploymentObject {
  return {
    metadata: {
      namespace: 'default',
      name,
      uid: '5f0c7a4e-8b1d-4c2e-9a53-0d7f3b8e2c11',
      resourceVersion: rv,
      generation: 1,
    },
    spec: { replicas: 1, selector: {}, template: { spec: { containers: [{ name: 'app', image: 'nginx' }] } } },
  };
}

async function until<T>(fn: () => T | undefined | false, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

function setup(saved: string | null) {
  const config = Object.assign(new AppConfig(), { WATCHER_WATCHDOG_MS: 1000 });
  const watches: FakeWatch[] = [];
  const order: string[] = [];
  const gateway = {
    watchDeployments: async (opts: DeploymentWatchOptions, onEvent: (e: DeploymentWatchEvent) => void) => {
      const w = new FakeWatch(opts);
      w.emit = onEvent;
      const ended = new Promise<DeploymentWatchEnd>((resolve) => (w.end = resolve));
      watches.push(w);
      return {
        ended,
        stop: () => {
          w.stopped = true;
          w.end({ reason: 'stopped' });
        },
      };
    },
  };
  const relists: RelistReason[] = [];
  let listRv = 100;
  const invalid: unknown[] = [];
  const sync = {
    resumePosition: async () => saved ?? undefined,
    afterMirrorWrite: jest.fn(async () => undefined),
    reportInvalid: jest.fn((_source: string, _what: string, rv: unknown) => invalid.push(rv)),
    syncScope: jest.fn(async (_s: WatchScope, reason: RelistReason) => {
      relists.push(reason);
      order.push(`list`);
      return { inserted: 0, updated: 0, markedDeleted: 0, total: 0, resourceVersion: String((listRv += 100)) };
    }),
  };
  const written: MirrorRow[][] = [];
  let failWrites = false;
  const deployments = {
    upsertMany: jest.fn(async (rows: MirrorRow[]) => {
      if (failWrites) throw new Error('database is down');
      written.push(rows);
      order.push(`rows ${rows.map((r) => r.resourceVersion).join(',')}`);
      return { inserted: rows.length, updated: 0 };
    }),
  };
  const positions: string[] = [];
  const state = {
    find: async () => (saved ? { resourceVersion: saved } : null),
    recordPosition: jest.fn(async (_scope: string, rv: string) => {
      positions.push(rv);
      order.push(`position ${rv}`);
    }),
  };
  const stream = new DeploymentStream(scope, {
    config,
    gateway: gateway as unknown as KubernetesGateway,
    sync: sync as unknown as MirrorSyncService,
    deployments: deployments as unknown as DeploymentsRepository,
    state: state as unknown as WatcherStateRepository,
    metrics: new MetricsService(),
  });
  return {
    stream,
    watches,
    relists,
    written,
    positions,
    order,
    invalid,
    failWrites: (v: boolean) => (failWrites = v),
  };
}

describe('DeploymentStream', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('resumes from the saved position without a list, and saves the position only after the rows', async () => {
    const t = setup('50');
    t.stream.start();
    const w = await until(() => t.watches[0], 'watch started');
    expect(w.opts.resourceVersion).toBe('50');
    expect(t.relists).toEqual([]);

    w.emit({ type: 'ADDED', object: deployment('a', '51') });
    w.emit({ type: 'MODIFIED', object: deployment('a', '52') });
    w.emit({ type: 'DELETED', object: deployment('b', '53') });
    await until(() => t.written.flat().some((r) => r.name === 'b'), 'b written');
    await t.stream.stop();

    const rows = t.written.flat();
    expect(rows.find((r) => r.name === 'b')?.deleted).toBe(true);
    expect(
      rows
        .filter((r) => r.name === 'a')
        .map((r) => r.resourceVersion)
        .pop(),
    ).toBe('52');
    expect(t.positions[t.positions.length - 1]).toBe('53');
    const lastRows = t.order.map((o, i) => (o.startsWith('rows') ? i : -1)).reduce((a, b) => Math.max(a, b));
    expect(t.order.indexOf('position 53')).toBeGreaterThan(lastRows);
  });

  it('lists first when no position was saved, then watches from the list', async () => {
    const t = setup(null);
    t.stream.start();
    const w = await until(() => t.watches[0], 'watch started');
    expect(t.relists).toEqual(['initial']);
    expect(w.opts.resourceVersion).toBe('200');
    await t.stream.stop();
  });

  it('relists on 410 Gone and resumes from the relist', async () => {
    const t = setup('1');
    t.stream.start();
    const first = await until(() => t.watches[0], 'first watch');
    first.end({ reason: 'gone', message: 'too old resource version: 1 (284)' });
    const second = await until(() => t.watches[1], 'second watch');
    expect(t.relists).toEqual(['gone']);
    expect(second.opts.resourceVersion).toBe('200');
    await t.stream.stop();
  });

  it('resumes without a list when the server closes the stream, from the last bookmark', async () => {
    const t = setup('50');
    t.stream.start();
    const first = await until(() => t.watches[0], 'first watch');
    first.emit({ type: 'BOOKMARK', resourceVersion: '77' });
    first.end({ reason: 'closed' });
    const second = await until(() => t.watches[1], 'second watch');
    expect(second.opts.resourceVersion).toBe('77');
    expect(t.relists).toEqual([]);
    await t.stream.stop();
    expect(t.positions).toContain('77');
  });

  it('records contact on a bookmark even when the position has not moved', async () => {
    const t = setup('50');
    t.stream.start();
    const w = await until(() => t.watches[0], 'watch started');
    await new Promise((r) => setTimeout(r, 5));
    w.emit({ type: 'BOOKMARK', resourceVersion: '50' });
    await until(() => t.positions.includes('50'), 'position saved with the new contact time');
    await t.stream.stop();
  });

  it('relists after an error, following a backoff', async () => {
    const t = setup('50');
    t.stream.start();
    const first = await until(() => t.watches[0], 'first watch');
    first.end({ reason: 'error', error: new Error('connection reset') });
    await until(() => t.stream.phase === 'backoff', 'backing off');
    expect(t.stream.lastError).toBe('connection reset');
    expect(t.relists).toEqual([]);
    await until(() => t.watches[1], 'second watch');
    expect(t.relists).toEqual(['reconnect']);
    expect(t.stream.lastError).toBeUndefined();
    await t.stream.stop();
  });

  it('relists when the watchdog finds the stream silent', async () => {
    const t = setup('50');
    t.stream.start();
    const first = await until(() => t.watches[0], 'first watch');
    t.stream.checkWatchdog(Date.now() + 500);
    expect(first.stopped).toBe(false);
    t.stream.checkWatchdog(Date.now() + 5000);
    expect(first.stopped).toBe(true);
    await until(() => t.watches[1], 'second watch');
    expect(t.relists).toEqual(['watchdog']);
    await t.stream.stop();
  });

  it('stops the watch and relists when a write fails, since events in hand may be lost', async () => {
    const t = setup('50');
    t.stream.start();
    const first = await until(() => t.watches[0], 'first watch');
    t.failWrites(true);
    first.emit({ type: 'ADDED', object: deployment('a', '51') });
    await until(() => first.stopped, 'watch stopped');
    t.failWrites(false);
    await until(() => t.watches[1], 'second watch');
    expect(t.relists).toEqual(['reconnect']);
    await t.stream.stop();
  });

  it('reports and skips events and bookmarks with a malformed resourceVersion instead of failing', async () => {
    const t = setup('50');
    t.stream.start();
    const w = await until(() => t.watches[0], 'watch started');
    w.emit({ type: 'ADDED', object: deployment('bad', '051') });
    w.emit({ type: 'BOOKMARK', resourceVersion: 'abc' });
    w.emit({ type: 'ADDED', object: deployment('good', '60') });
    await until(() => t.written.flat().some((r) => r.name === 'good'), 'good written');
    await t.stream.stop();
    expect(t.invalid).toEqual(['051', 'abc']);
    expect(t.written.flat().map((r) => r.name)).toEqual(['good']);
    expect(t.positions[t.positions.length - 1]).toBe('60');
    expect(t.relists).toEqual([]);
  });

  it('does not write back a resumed position the watch never confirmed', async () => {
    const t = setup('999999999999');
    t.stream.start();
    await until(() => t.watches[0], 'watch started');
    await t.stream.stop();
    expect(t.positions).toEqual([]);
  });
});
