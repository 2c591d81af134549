import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import type { DeploymentsRepository, MirrorWriteBasis } from '../deployments/deployments.repository.js';
import type { DeploymentObject, KubernetesGateway } from '../kubernetes/kubernetes.gateway.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/deployment-spec.js';
import { DeploymentRequestEntity, Operation, SpecMode } from '../requests/deployment-request.entity.js';
import { DeploymentApplier, REMEMBERED_WRITES } from './deployment-applier.js';

const conflict = () => new DomainError(ErrorCode.ResourceVersionConflict, 'the object has been modified');

const live = (rv: string, managed = true, image = 'nginx:1.27', uid = 'uid-1'): DeploymentObject => ({
  metadata: {
    name: 'web',
    namespace: 'ns',
    uid,
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

/** The mirror's row of `live(rv)`. */
const row = (rv: string, over: Partial<MirrorWriteBasis> = {}): MirrorWriteBasis => ({
  uid: 'uid-m',
  resourceVersion: rv,
  generation: Number(rv),
  managed: true,
  deleted: false,
  spec: { image: 'nginx:1.27', replicas: 1, labels: { team: 'a' } },
  ...over,
});

/**
 * A stand-in gateway and mirror: `reads` are answered in turn (the last one repeats), writes
 * are recorded, and each write answers with the next of its scripted outcomes (an Error is
 * thrown). `mirror` is the deployments row the worker finds (none by default).
 */
function setup(opts: {
  reads?: (DeploymentObject | null)[];
  mirror?: MirrorWriteBasis | null;
  applies?: (DeploymentObject | Error)[];
  creates?: (DeploymentObject | null | Error)[];
  deletes?: (boolean | Error)[];
  adopts?: (DeploymentObject | null)[];
  createNamespaces?: boolean;
}) {
  const calls: { op: string; arg?: unknown; args?: unknown[] }[] = [];
  const next = <T>(list: T[] | undefined, fallback: T): T => (list && list.length ? list.shift()! : fallback);
  const reads = opts.reads ?? [null];
  let readIndex = 0;
  const gateway = {
    getDeployment: async () => {
      calls.push({ op: 'get' });
      const r = reads[Math.min(readIndex++, reads.length - 1)];
      return r ? structuredClone(r) : null;
    },
    // Like the real one: a call only when a create by POST left our "Update" entry.
    adoptFields: async (d: DeploymentObject) => {
      if (!d.metadata?.managedFields?.some((f) => f.operation === 'Update')) return null;
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
    createNamespace: async () => void calls.push({ op: 'createNamespace' }),
  };
  const mirror = { writeBasis: async () => (opts.mirror ? structuredClone(opts.mirror) : null) };
  const applier = new DeploymentApplier(
    { CREATE_NAMESPACES: opts.createNamespaces ?? true } as AppConfig,
    gateway as unknown as KubernetesGateway,
    mirror as unknown as DeploymentsRepository,
  );
  const writes = () => calls.filter((c) => ['apply', 'create', 'delete'].includes(c.op));
  const ops = () => calls.map((c) => c.op);
  const fence = async () => void calls.push({ op: 'fence' });
  return { applier, calls, writes, ops, fence };
}

const request = (
  operation: Operation,
  spec: object | null = { image: 'nginx:1.28', replicas: 2 },
  mode = SpecMode.REPLACE,
  name = 'web',
) =>
  ({
    requestId: 'r1',
    operation,
    namespace: 'ns',
    name,
    spec,
    specMode: mode,
  }) as DeploymentRequestEntity;

const manifestOf = (c: { arg?: unknown }) => c.arg as DeploymentObject;
const rvOf = (c: { arg?: unknown }) => manifestOf(c).metadata?.resourceVersion;
const uidOf = (c: { arg?: unknown }) => manifestOf(c).metadata?.uid;

describe('DeploymentApplier', () => {
  it('checks the fence before every write, after what it depends on was read, and writes nothing once it fails', async () => {
    const cases = [
      { op: Operation.CREATE, mirror: null, before: ['fence'] },
      { op: Operation.UPDATE, mirror: row('7'), before: ['fence'] },
      { op: Operation.DELETE, mirror: row('7'), before: ['fence'] },
      { op: Operation.UPDATE, mirror: null, before: ['get', 'fence'] },
      { op: Operation.DELETE, mirror: null, before: ['get', 'fence'] },
    ];
    for (const c of cases) {
      const { applier, calls, writes, ops } = setup({ reads: [live('7')], mirror: c.mirror });
      const fence = async () => {
        calls.push({ op: 'fence' });
        throw new Error('lost the lock');
      };
      await expect(applier.apply(request(c.op), fence)).rejects.toThrow('lost the lock');
      expect(ops()).toEqual(c.before);
      expect(writes()).toEqual([]);
    }
  });

  describe('CREATE', () => {
    it('makes one create-only write and nothing else: no read, no namespace check, no adoption', async () => {
      const { applier, ops, fence, writes } = setup({ reads: [null] });
      await expect(applier.apply(request(Operation.CREATE), fence)).resolves.toEqual({
        generation: 50,
        resourceVersion: '50',
      });
      expect(ops()).toEqual(['fence', 'create']);
      expect(rvOf(writes()[0])).toBeUndefined();
    });

    it('when it exists and is ours (a redelivery, our call that landed late), reads and applies on that read', async () => {
      const { applier, ops, fence, writes } = setup({ reads: [live('9')], creates: [null] });
      await applier.apply(request(Operation.CREATE), fence);
      expect(ops()).toEqual(['fence', 'create', 'get', 'fence', 'apply']);
      expect([rvOf(writes()[1]), uidOf(writes()[1])]).toEqual(['9', 'uid-1']);
    });

    it('when it exists and is not ours, ends Conflict with no other write', async () => {
      const { applier, writes } = setup({ reads: [live('9', false)], creates: [null] });
      await expect(applier.apply(request(Operation.CREATE))).rejects.toMatchObject({ code: ErrorCode.Conflict });
      expect(writes().map((w) => w.op)).toEqual(['create']);
    });

    it('creates a missing namespace and tries once more, fenced again; with CREATE_NAMESPACES off it refuses', async () => {
      const missing = () => new DomainError(ErrorCode.NamespaceNotFound, 'namespaces "ns" not found');
      const on = setup({ creates: [missing()] });
      await on.applier.apply(request(Operation.CREATE), on.fence);
      expect(on.ops()).toEqual(['fence', 'create', 'createNamespace', 'fence', 'create']);
      const off = setup({ creates: [missing()], createNamespaces: false });
      await expect(off.applier.apply(request(Operation.CREATE))).rejects.toMatchObject({
        code: ErrorCode.NamespaceNotFound,
        message: expect.stringContaining('CREATE_NAMESPACES is off'),
      });
      expect(off.ops()).toEqual(['create']);
    });
  });

  describe('UPDATE (REPLACE)', () => {
    it('with the mirror saying ours, makes one apply on the mirror uid and resourceVersion, reading nothing', async () => {
      const { applier, ops, writes } = setup({ mirror: row('7') });
      await expect(applier.apply(request(Operation.UPDATE))).resolves.toEqual({
        generation: 100,
        resourceVersion: '100',
      });
      expect(ops()).toEqual(['apply']);
      const m = manifestOf(writes()[0]);
      expect([m.metadata?.resourceVersion, m.metadata?.uid]).toEqual(['7', 'uid-m']);
      expect(m.spec?.template.spec?.containers[0].image).toBe('nginx:1.28');
    });

    it('uses what its own last write answered when that is newer than the mirror, and the mirror when it is newer', async () => {
      const ahead = setup({ mirror: row('40'), creates: [live('50')] });
      await ahead.applier.apply(request(Operation.CREATE));
      await ahead.applier.apply(request(Operation.UPDATE));
      expect(ahead.ops()).toEqual(['create', 'apply']);
      expect([rvOf(ahead.writes()[1]), uidOf(ahead.writes()[1])]).toEqual(['50', 'uid-1']);

      const behind = setup({ mirror: row('60'), creates: [live('50')] });
      await behind.applier.apply(request(Operation.CREATE));
      await behind.applier.apply(request(Operation.UPDATE));
      expect([rvOf(behind.writes()[1]), uidOf(behind.writes()[1])]).toEqual(['60', 'uid-m']);
    });

    it('with no mirror row uses its own last write, and after an apply uses that apply', async () => {
      const { applier, ops, writes } = setup({ applies: [live('101'), live('102')] });
      await applier.apply(request(Operation.CREATE));
      await applier.apply(request(Operation.UPDATE));
      await applier.apply(request(Operation.UPDATE));
      expect(ops()).toEqual(['create', 'apply', 'apply']);
      expect(writes().slice(1).map(rvOf)).toEqual(['50', '101']);
    });

    it('reads and decides when the newest known version is not ours or is deleted, or nothing is known', async () => {
      for (const mirror of [row('7', { managed: false }), row('7', { deleted: true }), null]) {
        const { applier, ops, writes } = setup({ mirror, reads: [live('8')] });
        await applier.apply(request(Operation.UPDATE));
        expect(ops()).toEqual(['get', 'apply']);
        expect(rvOf(writes()[0])).toBe('8');
      }
      // A foreign Deployment read that way is refused: nothing written.
      const foreign = setup({ mirror: row('7', { managed: false }), reads: [live('8', false)] });
      await expect(foreign.applier.apply(request(Operation.UPDATE))).rejects.toMatchObject({
        code: ErrorCode.Forbidden,
      });
      expect(foreign.writes()).toEqual([]);
    });

    it('on 409 (changed behind us), reads, checks it is ours, and applies on the read', async () => {
      const { applier, ops, fence, writes } = setup({ mirror: row('7'), reads: [live('8')], applies: [conflict()] });
      await expect(applier.apply(request(Operation.UPDATE), fence)).resolves.toMatchObject({ resourceVersion: '100' });
      expect(ops()).toEqual(['fence', 'apply', 'get', 'fence', 'apply']);
      expect(writes().map(rvOf)).toEqual(['7', '8']);
    });

    it('on 409 where a foreign Deployment replaced ours, ends Forbidden with no other write', async () => {
      const { applier, writes } = setup({
        mirror: row('7'),
        reads: [live('8', false, 'nginx:1.27', 'uid-foreign')],
        applies: [conflict()],
      });
      await expect(applier.apply(request(Operation.UPDATE))).rejects.toMatchObject({ code: ErrorCode.Forbidden });
      expect(writes()).toHaveLength(1);
    });

    it('when the known namespace is gone, reads: NotFound', async () => {
      const { applier, ops } = setup({
        mirror: row('7'),
        reads: [null],
        applies: [new DomainError(ErrorCode.NamespaceNotFound, 'namespaces "ns" not found')],
      });
      await expect(applier.apply(request(Operation.UPDATE))).rejects.toMatchObject({ code: ErrorCode.NotFound });
      expect(ops()).toEqual(['apply', 'get']);
    });

    it('after a 409 forgets its own last write, and the read path retries 409s up to its limit', async () => {
      const { applier, writes } = setup({
        reads: [live('7')],
        applies: [conflict(), conflict(), conflict(), conflict()],
      });
      await applier.apply(request(Operation.CREATE));
      const error = await applier.apply(request(Operation.UPDATE)).catch((e: DomainError) => e);
      expect(error).toMatchObject({ code: ErrorCode.ResourceVersionConflict });
      expect((error as DomainError).retryable).toBe(true);
      // The direct write on the create's answer, then three on reads.
      expect(writes().slice(1).map(rvOf)).toEqual(['50', '7', '7', '7']);
    });

    it('on the read path, takes over the fields an older version created by POST before applying', async () => {
      const created = live('7');
      created.metadata!.managedFields = [{ manager: 'k8s-deployment-manager', operation: 'Update' }];
      const { applier, ops, writes } = setup({ reads: [created], adopts: [live('8')] });
      await applier.apply(request(Operation.UPDATE));
      expect(ops()).toEqual(['get', 'adopt', 'apply']);
      expect(rvOf(writes()[0])).toBe('8');
    });

    it('remembers a bounded number of Deployments: the least recently written is read again', async () => {
      const { applier, ops } = setup({ reads: [live('7')] });
      for (let i = 0; i <= REMEMBERED_WRITES; i++)
        await applier.apply(request(Operation.CREATE, undefined, SpecMode.REPLACE, `web-${i}`));
      const before = ops().length;
      await applier.apply(request(Operation.UPDATE, undefined, SpecMode.REPLACE, `web-${REMEMBERED_WRITES}`));
      await applier.apply(request(Operation.UPDATE, undefined, SpecMode.REPLACE, 'web-0'));
      expect(ops().slice(before)).toEqual(['apply', 'get', 'apply']);
    });
  });

  describe('UPDATE (MERGE)', () => {
    it('merges the named fields over the mirror spec and applies on the mirror version, reading nothing', async () => {
      const { applier, ops, writes } = setup({ mirror: row('7') });
      await applier.apply(request(Operation.UPDATE, { replicas: 5 }, SpecMode.MERGE));
      expect(ops()).toEqual(['apply']);
      const m = manifestOf(writes()[0]);
      expect(m.metadata?.resourceVersion).toBe('7');
      expect(m.metadata?.labels).toMatchObject({ team: 'a' });
      expect(m.spec?.replicas).toBe(5);
      expect(m.spec?.template.spec?.containers[0].image).toBe('nginx:1.27');
    });

    it('merges over the spec its own last write answered when that is the newest', async () => {
      const { applier, ops, writes } = setup({ mirror: row('40'), creates: [live('50', true, 'nginx:1.26')] });
      await applier.apply(request(Operation.CREATE));
      await applier.apply(request(Operation.UPDATE, { replicas: 5 }, SpecMode.MERGE));
      expect(ops()).toEqual(['create', 'apply']);
      const m = manifestOf(writes()[1]);
      expect([m.metadata?.resourceVersion, m.spec?.template.spec?.containers[0].image]).toEqual(['50', 'nginx:1.26']);
    });

    it('reads live when the mirror has env from references, whose valueFrom it does not keep', async () => {
      const withRefs = (): DeploymentObject => {
        const d = live('8');
        d.spec!.template.spec!.containers[0].env = [
          { name: 'MODE', value: 'fast' },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'web', key: 'token' } } },
        ];
        return d;
      };
      const mirror = row('8', {
        spec: { image: 'nginx:1.27', replicas: 1, env: { MODE: 'fast' }, envReferences: { TOKEN: 'secretKeyRef' } },
      });
      const { applier, ops, writes } = setup({ mirror, reads: [withRefs()] });
      await applier.apply(request(Operation.UPDATE, { replicas: 5 }, SpecMode.MERGE));
      expect(ops()).toEqual(['get', 'apply']);
      expect(manifestOf(writes()[0]).spec?.template.spec?.containers[0].env).toEqual([
        { name: 'MODE', value: 'fast' },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'web', key: 'token' } } },
      ]);
    });

    it('on a read, keeps env references unless the patch names env, which replaces it whole', async () => {
      const withRefs = (): DeploymentObject => {
        const d = live('7');
        d.spec!.template.spec!.containers[0].env = [
          { name: 'MODE', value: 'fast' },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'web', key: 'token' } } },
        ];
        return d;
      };
      const replaced = setup({ reads: [withRefs()] });
      await replaced.applier.apply(request(Operation.UPDATE, { env: { MODE: 'slow' } }, SpecMode.MERGE));
      expect(manifestOf(replaced.writes()[0]).spec?.template.spec?.containers[0].env).toEqual([
        { name: 'MODE', value: 'slow' },
      ]);
    });
  });

  describe('DELETE', () => {
    it('with the mirror saying ours, makes one delete on the mirror uid and resourceVersion, reading nothing', async () => {
      const { applier, ops, writes } = setup({ mirror: row('7') });
      await expect(applier.apply(request(Operation.DELETE, null))).resolves.toEqual({
        generation: 7,
        resourceVersion: '7',
      });
      expect(ops()).toEqual(['delete']);
      expect(writes()[0].args).toEqual(['ns', 'web', 'uid-m', '7']);
    });

    it('on 409 reads: deletes on the read when ours, succeeds when gone, and refuses a foreign one', async () => {
      const ours = setup({ mirror: row('7'), reads: [live('8')], deletes: [conflict()] });
      await ours.applier.apply(request(Operation.DELETE, null));
      expect(ours.writes().map((w) => w.args)).toEqual([
        ['ns', 'web', 'uid-m', '7'],
        ['ns', 'web', 'uid-1', '8'],
      ]);
      const gone = setup({ mirror: row('7'), reads: [null], deletes: [conflict()] });
      await expect(gone.applier.apply(request(Operation.DELETE, null))).resolves.toEqual({
        generation: null,
        resourceVersion: null,
      });
      const foreign = setup({ mirror: row('7'), reads: [live('8', false)], deletes: [conflict()] });
      await expect(foreign.applier.apply(request(Operation.DELETE, null))).rejects.toMatchObject({
        code: ErrorCode.Forbidden,
      });
      expect(foreign.writes()).toHaveLength(1);
    });

    it('with nothing known, reads: deletes on the read, refuses what it does not manage, succeeds when gone', async () => {
      const ours = setup({ reads: [live('7')] });
      await ours.applier.apply(request(Operation.DELETE, null));
      expect(ours.writes()[0].args).toEqual(['ns', 'web', 'uid-1', '7']);
      const foreign = setup({ reads: [live('7', false)] });
      await expect(foreign.applier.apply(request(Operation.DELETE, null))).rejects.toMatchObject({
        code: ErrorCode.Forbidden,
      });
      const gone = setup({ reads: [null] });
      await gone.applier.apply(request(Operation.DELETE, null));
      expect([...foreign.writes(), ...gone.writes()]).toEqual([]);
    });

    it('forgets its own last write once it deleted, so a later UPDATE reads', async () => {
      const { applier, ops } = setup({ reads: [null] });
      await applier.apply(request(Operation.CREATE));
      await applier.apply(request(Operation.DELETE, null));
      await expect(applier.apply(request(Operation.UPDATE))).rejects.toMatchObject({ code: ErrorCode.NotFound });
      expect(ops()).toEqual(['create', 'delete', 'get']);
    });
  });
});
