import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { DeploymentObject, KubernetesGateway, ListPage } from '../kubernetes/kubernetes.gateway.js';
import type { RolloutReceipts } from '../requests/rollout-receipts.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { NamespacePolicy } from '../domain/namespace-policy.js';
import type { DeploymentsRepository } from './deployments.repository.js';
import type { MirrorRow } from './mirror-row.mapper.js';
import { MirrorSyncService } from './mirror-sync.service.js';
import type { WatcherStateRepository } from '../watcher/watcher-state.repository.js';

const item = (name: string, resourceVersion: string): DeploymentObject => ({
  metadata: { namespace: 'team', name, uid: '5f0c7a4e-8b1d-4c2e-9a53-0d7f3b8e2c11', resourceVersion, generation: 1 },
  spec: { replicas: 1, selector: {}, template: { spec: { containers: [{ name: 'app', image: 'nginx' }] } } },
});

// Kubernetes returning malformed resourceVersions cannot be staged on the real apiserver, so this is a unit test.
function setup(pages: ListPage[]) {
  const config = Object.assign(new AppConfig(), { MANAGED_NAMESPACES: ['team'] });
  const written: MirrorRow[] = [];
  const gateway = {
    clusterUid: async () => 'uid-1',
    async *listDeployments() {
      for (const p of pages) yield p;
    },
  };
  const deployments = {
    upsertMany: jest.fn(async (rows: MirrorRow[]) => {
      written.push(...rows);
      return { inserted: rows.length, updated: 0 };
    }),
    markAbsentDeleted: jest.fn(async (..._args: unknown[]) => 0),
    malformedResourceVersions: async () => [],
  };
  const state = { find: async () => null, recordRelist: jest.fn(async () => undefined) };
  const metrics = new MetricsService();
  const sync = new MirrorSyncService(
    config,
    gateway as unknown as KubernetesGateway,
    deployments as unknown as DeploymentsRepository,
    state as unknown as WatcherStateRepository,
    metrics,
    new NamespacePolicy(config),
    { advanceQuietly: async () => undefined } as unknown as RolloutReceipts,
  );
  const invalid = async () => (await metrics.invalidResourceVersions.get()).values.reduce((n, v) => n + v.value, 0);
  return { sync, written, deployments, state, invalid };
}

describe('MirrorSyncService with malformed resourceVersions from Kubernetes', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('skips and reports a listed object whose resourceVersion is malformed, without marking it deleted', async () => {
    const t = setup([{ items: [item('ok', '10'), item('bad', '01'), item('worse', 'abc')], resourceVersion: '12' }]);
    const r = await t.sync.resync();
    expect(r).toMatchObject({ inserted: 1, total: 3, invalidResourceVersions: 2 });
    expect(t.written.map((w) => w.name)).toEqual(['ok']);
    const present = t.deployments.markAbsentDeleted.mock.calls[0][1] as { name: string }[];
    expect(present.map((p) => p.name)).toEqual(['ok', 'bad', 'worse']);
    expect(await t.invalid()).toBe(2);
  });

  it('refuses a list whose own resourceVersion is malformed with InvalidResourceVersion, writing nothing', async () => {
    for (const rv of ['01', 'abc', '']) {
      const t = setup([{ items: [item('ok', '10')], resourceVersion: rv }]);
      const error = await t.sync.resync().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe(ErrorCode.InvalidResourceVersion);
      expect(t.written).toEqual([]);
      expect(t.state.recordRelist).not.toHaveBeenCalled();
    }
  });
});
