import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import type { DeploymentObject, KubernetesGateway } from '../kubernetes/kubernetes.gateway.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/deployment-spec.js';
import { DeploymentRequestEntity, Operation, SpecMode } from '../requests/deployment-request.entity.js';
import { DeploymentApplier } from './deployment-applier.js';

const conflict = () => new DomainError(ErrorCode.ResourceVersionConflict, 'the object has been modified');

const live = (rv: string, managed = true, image = 'nginx:1.27'): DeploymentObject => ({
  metadata: {
    name: 'web',
    namespace: 'ns',
    uid: 'uid-1',
    resourceVersion: rv,
    generation: Number(rv),
    labels: managed ? { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } : {},
  },
  spec: {
    replicas: 1,
    selector: {},
    template: { spec: { containers: [{ name: 'app', image }] } },
  },
});

/**
 * A stand-in gateway: `reads` are answered in turn (the last one repeats), writes are recorded,
 * and each write answers with the next of its scripted outcomes (an Error is thrown).
 */
function setup(opts: {
  reads: (DeploymentObject | null)[];
  applies?: (DeploymentObject | Error)[];
  creates?: (DeploymentObject | null | Error)[];
  deletes?: (boolean | Error)[];
  adopts?: (DeploymentObject | null)[];
}) {
  const calls: { op: string; arg?: unknown; args?: unknown[] }[] = [];
  const next = <T>(list: T[] | undefined, fallback: T): T => (list && list.length ? list.shift()! : fallback);
  let readIndex = 0;
  const gateway = {
    getDeployment: async () => {
      calls.push({ op: 'get' });
      const r = opts.reads[Math.min(readIndex++, opts.reads.length - 1)];
      return r ? structuredClone(r) : null;
    },
    adoptFields: async (d: DeploymentObject) => {
      calls.push({ op: 'adopt', arg: d.metadata?.resourceVersion });
      return next(opts.adopts, null);
    },
    applyDeployment: async (m: DeploymentObject) => {
      calls.push({ op: 'apply', arg: m });
      const r = next<DeploymentObject | Error>(opts.applies, live('100'));
      if (r instanceof Error) throw r;
      return r;
    },
    createDeployment: async (m: DeploymentObject) => {
      calls.push({ op: 'create', arg: m });
      const r = next<DeploymentObject | null | Error>(opts.creates, live('50'));
      if (r instanceof Error) throw r;
      return r;
    },
    deleteDeployment: async (...args: unknown[]) => {
      calls.push({ op: 'delete', args });
      const r = next<boolean | Error>(opts.deletes, true);
      if (r instanceof Error) throw r;
      return r;
    },
    namespaceExists: async () => {
      calls.push({ op: 'namespaceExists' });
      return true;
    },
    createNamespace: async () => void calls.push({ op: 'createNamespace' }),
  };
  const applier = new DeploymentApplier(
    { CREATE_NAMESPACES: true } as AppConfig,
    gateway as unknown as KubernetesGateway,
  );
  const writes = () => calls.filter((c) => ['apply', 'create', 'delete'].includes(c.op));
  return { applier, calls, writes };
}

const request = (
  operation: Operation,
  spec: object | null = { image: 'nginx:1.28', replicas: 2 },
  mode = SpecMode.REPLACE,
) =>
  ({
    requestId: 'r1',
    operation,
    namespace: 'ns',
    name: 'web',
    spec,
    specMode: mode,
  }) as DeploymentRequestEntity;

const rvOf = (c: { arg?: unknown }) => (c.arg as DeploymentObject).metadata?.resourceVersion;

describe('DeploymentApplier', () => {
  it('checks the fence after each read and before the write, and writes nothing once it fails', async () => {
    for (const op of [Operation.CREATE, Operation.UPDATE, Operation.DELETE]) {
      const { applier, calls, writes } = setup({ reads: [op === Operation.CREATE ? null : live('7')] });
      const fence = async () => {
        calls.push({ op: 'fence' });
        throw new Error('lost the lock');
      };
      await expect(applier.apply(request(op), fence)).rejects.toThrow('lost the lock');
      expect(calls.map((c) => c.op)).toEqual(['get', 'fence']);
      expect(writes()).toEqual([]);
    }
  });

  describe('CREATE', () => {
    it('creates with a plain create (never an apply) when nothing exists', async () => {
      const { applier, writes } = setup({ reads: [null] });
      await expect(applier.apply(request(Operation.CREATE))).resolves.toEqual({
        generation: 50,
        resourceVersion: '50',
      });
      expect(writes().map((w) => w.op)).toEqual(['create']);
      expect(rvOf(writes()[0])).toBeUndefined();
    });

    it('refuses a Deployment it does not manage, writing nothing', async () => {
      const { applier, writes } = setup({ reads: [live('7', false)] });
      await expect(applier.apply(request(Operation.CREATE))).rejects.toMatchObject({ code: ErrorCode.Conflict });
      expect(writes()).toEqual([]);
    });

    it('on one of ours (a redelivery), applies its spec on the resourceVersion it read', async () => {
      const { applier, writes } = setup({ reads: [live('7')] });
      await applier.apply(request(Operation.CREATE));
      expect(writes().map((w) => w.op)).toEqual(['apply']);
      expect(rvOf(writes()[0])).toBe('7');
    });

    it('when the create finds it exists by then (ours landed late), reads again and applies on that read', async () => {
      const { applier, writes } = setup({ reads: [null, live('9')], creates: [null] });
      await applier.apply(request(Operation.CREATE));
      expect(writes().map((w) => w.op)).toEqual(['create', 'apply']);
      expect(rvOf(writes()[1])).toBe('9');
    });

    it('when the create finds it exists by then and it is not ours, ends Conflict', async () => {
      const { applier, writes } = setup({ reads: [null, live('9', false)], creates: [null] });
      await expect(applier.apply(request(Operation.CREATE))).rejects.toMatchObject({ code: ErrorCode.Conflict });
      expect(writes().map((w) => w.op)).toEqual(['create']);
    });
  });

  describe('UPDATE (REPLACE)', () => {
    it('applies the whole spec with the read resourceVersion as precondition', async () => {
      const { applier, writes } = setup({ reads: [live('7')] });
      await applier.apply(request(Operation.UPDATE));
      expect(writes()).toHaveLength(1);
      const m = writes()[0].arg as DeploymentObject;
      expect(m.metadata?.resourceVersion).toBe('7');
      expect(m.spec?.template.spec?.containers[0].image).toBe('nginx:1.28');
    });

    it('on 409, reads again and applies on the new resourceVersion: not a failure', async () => {
      const { applier, writes } = setup({ reads: [live('7'), live('8')], applies: [conflict()] });
      await expect(applier.apply(request(Operation.UPDATE))).resolves.toMatchObject({ resourceVersion: '100' });
      expect(writes().map(rvOf)).toEqual(['7', '8']);
    });

    it('after repeated 409s gives up with a retryable ResourceVersionConflict', async () => {
      const { applier, writes } = setup({ reads: [live('7')], applies: [conflict(), conflict(), conflict()] });
      const error = await applier.apply(request(Operation.UPDATE)).catch((e: DomainError) => e);
      expect(error).toMatchObject({ code: ErrorCode.ResourceVersionConflict });
      expect((error as DomainError).retryable).toBe(true);
      expect(writes()).toHaveLength(3);
    });

    it('refuses what it does not manage (Forbidden) and what does not exist (NotFound), writing nothing', async () => {
      const foreign = setup({ reads: [live('7', false)] });
      await expect(foreign.applier.apply(request(Operation.UPDATE))).rejects.toMatchObject({
        code: ErrorCode.Forbidden,
      });
      const absent = setup({ reads: [null] });
      await expect(absent.applier.apply(request(Operation.UPDATE))).rejects.toMatchObject({
        code: ErrorCode.NotFound,
      });
      expect([...foreign.writes(), ...absent.writes()]).toEqual([]);
    });

    it('first takes over the fields a create left under its own entry, then applies on that resourceVersion', async () => {
      const { applier, calls } = setup({ reads: [live('7')], adopts: [live('8')] });
      await applier.apply(request(Operation.UPDATE));
      expect(calls.map((c) => c.op)).toEqual(['get', 'adopt', 'apply']);
      expect(rvOf(calls[2])).toBe('8');
    });
  });

  describe('UPDATE (MERGE)', () => {
    it('merges the named fields over the live spec and applies on the read resourceVersion', async () => {
      const { applier, writes } = setup({ reads: [live('7', true, 'nginx:1.27')] });
      await applier.apply(request(Operation.UPDATE, { replicas: 5 }, SpecMode.MERGE));
      const m = writes()[0].arg as DeploymentObject;
      expect(m.metadata?.resourceVersion).toBe('7');
      expect(m.spec?.replicas).toBe(5);
      expect(m.spec?.template.spec?.containers[0].image).toBe('nginx:1.27');
    });

    it('keeps env set from references (valueFrom) unless the patch names env, which replaces it whole', async () => {
      const withRefs = (): DeploymentObject => {
        const d = live('7');
        d.spec!.template.spec!.containers[0].env = [
          { name: 'MODE', value: 'fast' },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'web', key: 'token' } } },
        ];
        return d;
      };
      const kept = setup({ reads: [withRefs()] });
      await kept.applier.apply(request(Operation.UPDATE, { replicas: 5 }, SpecMode.MERGE));
      expect((kept.writes()[0].arg as DeploymentObject).spec?.template.spec?.containers[0].env).toEqual([
        { name: 'MODE', value: 'fast' },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'web', key: 'token' } } },
      ]);
      const replaced = setup({ reads: [withRefs()] });
      await replaced.applier.apply(request(Operation.UPDATE, { env: { MODE: 'slow' } }, SpecMode.MERGE));
      expect((replaced.writes()[0].arg as DeploymentObject).spec?.template.spec?.containers[0].env).toEqual([
        { name: 'MODE', value: 'slow' },
      ]);
    });
  });

  describe('DELETE', () => {
    it('deletes with uid and resourceVersion preconditions from the read', async () => {
      const { applier, writes } = setup({ reads: [live('7')] });
      await expect(applier.apply(request(Operation.DELETE, null))).resolves.toEqual({
        generation: 7,
        resourceVersion: '7',
      });
      expect(writes()[0].args).toEqual(['ns', 'web', 'uid-1', '7']);
    });

    it('on 409 reads again; when it is gone by then, that is SUCCESS', async () => {
      const { applier, writes } = setup({ reads: [live('7'), null], deletes: [conflict()] });
      await expect(applier.apply(request(Operation.DELETE, null))).resolves.toEqual({
        generation: null,
        resourceVersion: null,
      });
      expect(writes()).toHaveLength(1);
    });

    it('refuses what it does not manage, and succeeds at once when already gone', async () => {
      const foreign = setup({ reads: [live('7', false)] });
      await expect(foreign.applier.apply(request(Operation.DELETE, null))).rejects.toMatchObject({
        code: ErrorCode.Forbidden,
      });
      const gone = setup({ reads: [null] });
      await gone.applier.apply(request(Operation.DELETE, null));
      expect([...foreign.writes(), ...gone.writes()]).toEqual([]);
    });
  });
});
