import type { AppConfig } from '../config/app-config.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/deployment-spec.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { DeploymentObject, KubernetesGateway } from '../kubernetes/kubernetes.gateway.js';
import { Operation, SpecMode } from '../requests/deployment-request.entity.js';
import { DRY_RUN_ATTEMPTS, DryRunService } from './dry-run.service.js';

const MANAGER = 'k8s-deployment-manager';

const live = (over: { image?: string; replicas?: number; managed?: boolean; managedFields?: unknown[] } = {}) =>
  ({
    metadata: {
      name: 'web',
      namespace: 'ns',
      uid: 'uid-1',
      resourceVersion: '7',
      labels: over.managed === false ? {} : { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      managedFields: over.managedFields ?? [],
    },
    spec: {
      replicas: over.replicas ?? 1,
      selector: {},
      template: { spec: { containers: [{ name: 'app', image: over.image ?? 'nginx:1.27' }] } },
    },
  }) as DeploymentObject;

/** A gateway whose read answers `current` and whose dry-run apply answers what was sent (plus a warning). */
function setup(current: DeploymentObject | null, opts: { namespaceExists?: boolean; conflicts?: number } = {}) {
  const calls: string[] = [];
  let conflicts = opts.conflicts ?? 0;
  const gateway = {
    getDeployment: async () => (calls.push('get'), current && structuredClone(current)),
    namespaceExists: async () => (calls.push('namespace'), opts.namespaceExists ?? true),
    dryRunApply: async (m: DeploymentObject) => {
      calls.push('dry-run-apply');
      // What a status write between our read and the dry run makes the apiserver answer.
      if (conflicts-- > 0) throw new DomainError(ErrorCode.ResourceVersionConflict, 'the object has been modified');
      return { object: { ...m, metadata: { ...m.metadata, generation: 2 } }, warnings: ['from the apiserver'] };
    },
    dryRunCreate: async (m: DeploymentObject) => (calls.push('dry-run-create'), { object: m, warnings: [] }),
    dryRunDelete: async () => (calls.push('dry-run-delete'), []),
  } as unknown as KubernetesGateway;
  const config = { KUBE_FIELD_MANAGER: MANAGER, CREATE_NAMESPACES: false } as AppConfig;
  const service = new DryRunService(config, gateway);
  const pauses: number[] = [];
  service.random = () => 0.5;
  service.sleep = async (ms) => void pauses.push(ms);
  return { service, calls, pauses };
}

const patch = (spec: Record<string, unknown>) => ({
  operation: Operation.UPDATE,
  specMode: SpecMode.MERGE,
  namespace: 'ns',
  name: 'web',
  spec,
});

describe('DryRunService', () => {
  it("reports the PATCH's change and the apiserver's warning, and writes only with dryRun", async () => {
    const { service, calls } = setup(live());
    expect(await service.run(patch({ image: 'nginx:1.28' }))).toEqual({
      wouldChange: true,
      changes: [{ path: 'image', from: 'nginx:1.27', to: 'nginx:1.28' }],
      warnings: ['from the apiserver'],
    });
    expect(calls).toEqual(['get', 'dry-run-apply']);
  });

  it('warns about a changed field another manager owns now, and about an adoption still pending', async () => {
    const managedFields = [
      { manager: MANAGER, operation: 'Update', fieldsV1: {} },
      {
        manager: 'kubectl-scale',
        operation: 'Update',
        subresource: 'scale',
        fieldsV1: { 'f:spec': { 'f:replicas': {} } },
      },
    ];
    const { service } = setup(live({ replicas: 5, managedFields }));
    const outcome = await service.run(patch({ replicas: 2 }));
    expect(outcome.changes).toEqual([{ path: 'replicas', from: 5, to: 2 }]);
    expect(outcome.warnings).toEqual([
      expect.stringContaining('not yet owned by our apply'),
      'from the apiserver',
      'replicas is owned by field manager "kubectl-scale" now; the write would take it over',
    ]);
  });

  it('reads again after a 409, pausing twice as long each time, and answers 409 only after its last attempt', async () => {
    const patient = setup(live(), { conflicts: DRY_RUN_ATTEMPTS - 1 });
    expect((await patient.service.run(patch({ image: 'nginx:1.28' }))).changes).toEqual([
      { path: 'image', from: 'nginx:1.27', to: 'nginx:1.28' },
    ]);
    expect(patient.calls).toEqual(Array(DRY_RUN_ATTEMPTS).fill(['get', 'dry-run-apply']).flat());
    expect(patient.pauses).toEqual([50, 100, 200, 400, 800]);

    const exhausted = setup(live(), { conflicts: DRY_RUN_ATTEMPTS });
    await expect(exhausted.service.run(patch({ image: 'nginx:1.28' }))).rejects.toMatchObject({
      code: ErrorCode.ResourceVersionConflict,
    });
    expect(exhausted.calls).toHaveLength(2 * DRY_RUN_ATTEMPTS);
    expect(exhausted.pauses).toHaveLength(DRY_RUN_ATTEMPTS - 1);
  });

  it('refuses as the real request would: not ours, absent, a create over a foreign one', async () => {
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'answered',
        (e: DomainError) => e.code,
      );
    expect(await code(setup(live({ managed: false })).service.run(patch({ replicas: 2 })))).toBe(ErrorCode.Forbidden);
    expect(await code(setup(null).service.run(patch({ replicas: 2 })))).toBe(ErrorCode.NotFound);
    const create = { operation: Operation.CREATE, specMode: SpecMode.REPLACE, namespace: 'ns', name: 'web' };
    expect(
      await code(setup(live({ managed: false })).service.run({ ...create, spec: { image: 'a', replicas: 1 } })),
    ).toBe(ErrorCode.Conflict);
    // CREATE_NAMESPACES off and no namespace: the real create's refusal, before any write.
    const noNamespace = setup(null, { namespaceExists: false });
    expect(await code(noNamespace.service.run({ ...create, spec: { image: 'a', replicas: 1 } }))).toBe(
      ErrorCode.NamespaceNotFound,
    );
    expect(noNamespace.calls).toEqual(['get', 'namespace']);
  });

  it('a DELETE lists every field going to null; one of an absent Deployment changes nothing', async () => {
    const del = { operation: Operation.DELETE, specMode: SpecMode.REPLACE, namespace: 'ns', name: 'web', spec: null };
    const { service, calls } = setup(live());
    expect(await service.run(del)).toEqual({
      wouldChange: true,
      changes: [
        { path: 'image', from: 'nginx:1.27', to: null },
        { path: 'replicas', from: 1, to: null },
      ],
      warnings: [],
    });
    expect(calls).toEqual(['get', 'dry-run-delete']);
    expect(await setup(null).service.run(del)).toEqual({ wouldChange: false, changes: [], warnings: [] });
  });
});
