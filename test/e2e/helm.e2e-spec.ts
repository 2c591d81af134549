import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

// The Helm chart against the local control plane: lint, a server-side dry run, a real install (KWOK
// fakes the pods, so role Deployments become Available without the image), and RBAC per role.
const CHART = 'deploy/helm/k8s-deployment-manager';
const RELEASE = 'kdm';
const FULLNAME = `${RELEASE}-k8s-deployment-manager`;
const ROLES = ['api', 'worker', 'watcher', 'reconciler'] as const;
type Role = (typeof ROLES)[number];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The binaries scripts/build-tools.sh caches, at the paths scripts/versions.sh names. */
function cachedTools(): { helm: string; kubectl: string } {
  const [helm, kubectl, version] = execFileSync(
    'bash',
    ['-c', '. scripts/versions.sh; echo "$HELM_BIN"; echo "$K8S_BIN_DIR/kubectl"; echo "$HELM_VERSION"'],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n');
  if (!existsSync(helm)) {
    throw new Error(
      `helm ${version} is not built (expected ${helm}): run scripts/build-tools.sh helm ` +
        '(make test builds it through scripts/stack.sh up)',
    );
  }
  return { helm, kubectl: existsSync(kubectl) ? kubectl : 'kubectl' };
}

function run(cmd: string, args: string[], input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

async function ok(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

describe('Helm chart deploy/helm/k8s-deployment-manager', () => {
  const id = randomBytes(3).toString('hex');
  // Listed namespaces: namespaced Roles. A pattern: ClusterRoles.
  const listed = { ns: `kdm-helm-${id}`, managed: [`kdm-helm-${id}-a`, `kdm-helm-${id}-b`] };
  const pattern = { ns: `kdm-helmp-${id}`, managed: `kdm-helmp-${id}-team-*` };
  const outside = `kdm-helm-${id}-outside`;
  let helm: string;
  let kubectl: string;

  const common = [
    '--set',
    'image.repository=registry.invalid/k8s-deployment-manager',
    '--set',
    'image.tag=e2e',
    '--set-string',
    'databaseUrl=postgres://kdm:secret@postgres:5432/k8sdm',
    '--set-string',
    `adminApiKey=kdm_${randomBytes(32).toString('base64url')}`,
  ];
  const listedValues = [
    ...common,
    '--set',
    `managedNamespaces={${listed.managed.join(',')}}`,
    '--set',
    'createNamespaces=false',
  ];
  const patternValues = [
    ...common,
    '--set',
    `managedNamespaces={${pattern.managed}}`,
    '--set',
    'createNamespaces=true',
  ];

  const sa = (ns: string, role: Role) => `system:serviceaccount:${ns}:${FULLNAME}-${role}`;
  const canI = async (ns: string, role: Role, verb: string, resource: string, where: string[]) => {
    const r = await run(kubectl, ['auth', 'can-i', verb, resource, ...where, `--as=${sa(ns, role)}`]);
    if (r.stdout.trim() !== 'yes' && r.stdout.trim() !== 'no') throw new Error(`can-i: ${r.stderr}${r.stdout}`);
    return r.stdout.trim() === 'yes';
  };

  beforeAll(async () => {
    ({ helm, kubectl } = cachedTools());
    if (!process.env.KUBECONFIG) throw new Error('KUBECONFIG is not set: eval "$(scripts/stack.sh env)" first');
    // Listed managed namespaces must exist before install: the chart puts a Role in each.
    for (const ns of [listed.ns, ...listed.managed, outside]) await ok(kubectl, ['create', 'namespace', ns]);
  });

  afterAll(async () => {
    if (!kubectl) return;
    for (const ns of [listed.ns, pattern.ns]) await run(helm, ['uninstall', RELEASE, '-n', ns, '--wait']);
    await run(kubectl, [
      'delete',
      'namespace',
      '--wait=false',
      '--ignore-not-found',
      listed.ns,
      pattern.ns,
      outside,
      ...listed.managed,
    ]);
  });

  it('passes helm lint --strict with listed namespaces and with a pattern', async () => {
    for (const values of [listedValues, patternValues]) {
      const out = await ok(helm, ['lint', CHART, '--strict', ...values]);
      expect(out).toContain('0 chart(s) failed');
    }
  });

  it('refuses to render without a database URL or an existing Secret, naming both', async () => {
    const r = await run(helm, ['template', RELEASE, CHART]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('set databaseUrl');
    expect(r.stderr).toContain('existingSecret.name');
  });

  it('with existingSecret creates no Secret and reads DATABASE_URL and ADMIN_API_KEY from it', async () => {
    const manifest = await ok(helm, [
      'template',
      RELEASE,
      CHART,
      '-n',
      listed.ns,
      '--set',
      'existingSecret.name=ops-db',
      '--set',
      `managedNamespaces={${listed.managed.join(',')}}`,
    ]);
    const out = await ok(kubectl, ['apply', '--dry-run=server', '-o', 'json', '-f', '-'], manifest);
    const items = (JSON.parse(out) as { items: K8sObject[] }).items;
    expect(items.filter((o) => o.kind === 'Secret')).toEqual([]);
    const refs = items.flatMap((o) => {
      const spec = o.spec as any;
      const pod = o.kind === 'CronJob' ? spec.jobTemplate.spec.template.spec : spec?.template?.spec;
      return (pod?.containers ?? []).flatMap((c: any) =>
        (c.env ?? [])
          .filter((e: any) => e.valueFrom?.secretKeyRef)
          .map((e: any) => `${o.kind}/${o.metadata.name} ${e.name}<-${e.valueFrom.secretKeyRef.name}`),
      );
    });
    expect(refs.sort()).toEqual(
      [
        `CronJob/${FULLNAME}-reconciler DATABASE_URL<-ops-db`,
        `Deployment/${FULLNAME}-api ADMIN_API_KEY<-ops-db`,
        `Deployment/${FULLNAME}-api DATABASE_URL<-ops-db`,
        `Deployment/${FULLNAME}-watcher DATABASE_URL<-ops-db`,
        `Deployment/${FULLNAME}-worker DATABASE_URL<-ops-db`,
        `Job/${FULLNAME}-migrate DATABASE_URL<-ops-db`,
      ].sort(),
    );
  });

  it.each([
    ['listed namespaces', 'listed'],
    ['a namespace pattern', 'pattern'],
  ])(
    'renders manifests the apiserver accepts with %s (helm template | kubectl apply --dry-run=server)',
    async (_, mode) => {
      const ns = mode === 'listed' ? listed.ns : `kdm-helmd-${id}`;
      if (mode !== 'listed') await ok(kubectl, ['create', 'namespace', ns]);
      try {
        const values = mode === 'listed' ? listedValues : patternValues;
        const manifest = await ok(helm, ['template', RELEASE, CHART, '-n', ns, ...values]);
        const out = await ok(kubectl, ['apply', '--dry-run=server', '-o', 'json', '-f', '-'], manifest);
        const items = (JSON.parse(out) as { items: K8sObject[] }).items;
        const names = (kind: string) =>
          items
            .filter((o) => o.kind === kind)
            .map(
              (o) =>
                (o.metadata.namespace && o.metadata.namespace !== ns ? `${o.metadata.namespace}/` : '') +
                o.metadata.name,
            )
            .sort();

        expect(names('Deployment')).toEqual([`${FULLNAME}-api`, `${FULLNAME}-watcher`, `${FULLNAME}-worker`]);
        expect(names('ServiceAccount')).toEqual(ROLES.map((r) => `${FULLNAME}-${r}`).sort());
        expect(names('PodDisruptionBudget')).toEqual([`${FULLNAME}-api`, `${FULLNAME}-worker`]);
        expect(names('ConfigMap')).toEqual([FULLNAME]);
        expect(names('Secret')).toEqual([FULLNAME, `${FULLNAME}-migrate`]);

        const cron = items.find((o) => o.kind === 'CronJob')!;
        expect(cron.spec).toMatchObject({ concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 120 });
        const cronPod = (cron.spec as any).jobTemplate.spec.template.spec;
        expect(cronPod.serviceAccountName).toBe(`${FULLNAME}-reconciler`);
        expect(cronPod.containers[0].env).toEqual(
          expect.arrayContaining([
            { name: 'ROLE', value: 'reconciler' },
            { name: 'RECONCILE_ONCE', value: 'true' },
          ]),
        );

        const migrate = items.find((o) => o.kind === 'Job')!;
        expect(migrate.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
        expect((migrate.spec as any).template.spec.containers[0].args).toEqual(['migrate']);

        for (const d of items.filter((o) => o.kind === 'Deployment')) {
          const pod = (d.spec as any).template.spec;
          const c = pod.containers[0];
          const role = d.metadata.name.slice(FULLNAME.length + 1);
          expect(pod.serviceAccountName).toBe(`${FULLNAME}-${role}`);
          expect(c.env).toEqual(expect.arrayContaining([{ name: 'ROLE', value: role }]));
          expect(c.livenessProbe.httpGet.path).toBe('/healthz');
          expect(c.readinessProbe.httpGet.path).toBe('/readyz');
          expect(c.resources.requests).toBeDefined();
          expect(pod.securityContext.runAsNonRoot).toBe(true);
          expect(c.securityContext).toMatchObject({
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
          });
          // ADMIN_API_KEY reaches the API only, and only from the Secret.
          const key = c.env.find((e: { name: string }) => e.name === 'ADMIN_API_KEY');
          if (role === 'api') expect(key.valueFrom.secretKeyRef.name).toBe(FULLNAME);
          else expect(key).toBeUndefined();
        }

        if (mode === 'listed') {
          // One Role per managed namespace and role; cluster-wide only for namespace reads.
          expect(names('Role')).toEqual(
            listed.managed.flatMap((m) => ROLES.map((r) => `${m}/${ns}-${FULLNAME}-${r}`)).sort(),
          );
          expect(names('ClusterRole')).toEqual(
            ['reconciler', 'watcher', 'worker'].map((r) => `${ns}-${FULLNAME}-${r}`),
          );
        } else {
          expect(names('Role')).toEqual([]);
          expect(names('ClusterRole')).toEqual(ROLES.map((r) => `${ns}-${FULLNAME}-${r}`).sort());
        }
      } finally {
        if (mode !== 'listed') await run(kubectl, ['delete', 'namespace', '--wait=false', ns]);
      }
    },
  );

  describe('installed with listed namespaces', () => {
    beforeAll(async () => {
      await ok(helm, ['install', RELEASE, CHART, '-n', listed.ns, '--wait', '--timeout', '5m', ...listedValues]);
    });

    it('ran the migration hook Job to completion before creating the role Deployments, each of which is Available', async () => {
      const job = JSON.parse(await ok(kubectl, ['get', 'job', `${FULLNAME}-migrate`, '-n', listed.ns, '-o', 'json']));
      expect(job.status.succeeded).toBe(1);
      const completed = new Date(job.status.completionTime).getTime();
      for (const role of ['api', 'worker', 'watcher']) {
        const d = JSON.parse(
          await ok(kubectl, ['get', 'deployment', `${FULLNAME}-${role}`, '-n', listed.ns, '-o', 'json']),
        );
        const available = d.status.conditions.find((c: { type: string }) => c.type === 'Available');
        expect([role, available?.status]).toEqual([role, 'True']);
        expect(d.status.availableReplicas).toBe(d.spec.replicas);
        // Hooks finish before the release's objects are created (a second's resolution: not before).
        expect(new Date(d.metadata.creationTimestamp).getTime()).toBeGreaterThanOrEqual(
          Math.floor(completed / 1000) * 1000,
        );
      }
      // The migration's own hook Secret is gone once the hook succeeded; the release's Secret stays.
      const secrets = await ok(kubectl, ['get', 'secrets', '-n', listed.ns, '-o', 'name']);
      expect(secrets.split('\n').filter((n) => n.startsWith(`secret/${FULLNAME}`))).toEqual([`secret/${FULLNAME}`]);
      const status = JSON.parse(await ok(helm, ['status', RELEASE, '-n', listed.ns, '-o', 'json']));
      expect(status.info.status).toBe('deployed');
    });

    // [role, verb, resource, namespace (or '' for cluster-scoped / '-A'), allowed]
    const a = () => listed.managed[0];
    const b = () => listed.managed[1];
    const matrix: [Role, string, string, () => string, boolean][] = [
      ['api', 'get', 'deployments', a, true],
      ['api', 'get', 'deployments', b, true],
      ['api', 'list', 'deployments', a, false],
      ['api', 'create', 'deployments', a, false],
      ['api', 'patch', 'deployments', a, false],
      ['api', 'delete', 'deployments', a, false],
      ['api', 'get', 'deployments', () => outside, false],
      ['api', 'get', 'namespaces/kube-system', () => '', false],
      ['api', 'get', 'secrets', () => listed.ns, false],
      ['worker', 'get', 'deployments', a, true],
      ['worker', 'create', 'deployments', a, true],
      ['worker', 'patch', 'deployments', b, true],
      ['worker', 'delete', 'deployments', b, true],
      ['worker', 'list', 'deployments', a, false],
      ['worker', 'watch', 'deployments', a, false],
      ['worker', 'deletecollection', 'deployments', a, false],
      ['worker', 'create', 'deployments', () => outside, false],
      ['worker', 'get', `namespaces/${listed.managed[0]}`, () => '', true],
      ['worker', 'get', `namespaces/${outside}`, () => '', false],
      ['worker', 'create', 'namespaces', () => '', false],
      ['worker', 'get', 'secrets', () => listed.ns, false],
      ['worker', 'create', 'pods', a, false],
      ['watcher', 'list', 'deployments', a, true],
      ['watcher', 'watch', 'deployments', b, true],
      ['watcher', 'get', 'namespaces/kube-system', () => '', true],
      ['watcher', 'patch', 'deployments', a, false],
      ['watcher', 'create', 'deployments', a, false],
      ['watcher', 'delete', 'deployments', a, false],
      ['watcher', 'list', 'deployments', () => outside, false],
      ['watcher', 'list', 'deployments', () => '-A', false],
      ['watcher', 'get', `namespaces/${listed.managed[0]}`, () => '', false],
      ['reconciler', 'list', 'deployments', a, true],
      ['reconciler', 'get', 'namespaces/kube-system', () => '', true],
      ['reconciler', 'watch', 'deployments', a, false],
      ['reconciler', 'create', 'deployments', a, false],
      ['reconciler', 'patch', 'deployments', a, false],
      ['reconciler', 'delete', 'deployments', a, false],
      ['reconciler', 'list', 'deployments', () => outside, false],
    ];

    it('grants each role exactly what its code calls (kubectl auth can-i matrix, negatives included)', async () => {
      const rows = await Promise.all(
        matrix.map(async ([role, verb, resource, where, allowed]) => {
          const w = where();
          const flags = w === '' ? [] : w === '-A' ? ['-A'] : ['-n', w];
          const got = await canI(listed.ns, role, verb, resource, flags);
          return { row: `${role} ${verb} ${resource} ${w}`, allowed: got, expected: allowed };
        }),
      );
      expect(rows.map((r) => `${r.row}: ${r.allowed}`)).toEqual(rows.map((r) => `${r.row}: ${r.expected}`));
    });
  });

  describe('installed with a namespace pattern and createNamespaces on', () => {
    beforeAll(async () => {
      await ok(helm, [
        'install',
        RELEASE,
        CHART,
        '-n',
        pattern.ns,
        '--create-namespace',
        '--wait',
        '--timeout',
        '5m',
        ...patternValues,
      ]);
    });

    it('grants cluster-wide Deployment verbs per role and namespace creation to the worker only', async () => {
      const any = ['-n', `kdm-helmp-${id}-team-x`];
      const rows: [Role, string, string, string[], boolean][] = [
        ['worker', 'create', 'deployments', any, true],
        ['worker', 'create', 'namespaces', [], true],
        ['worker', 'get', 'namespaces', [], true],
        ['worker', 'list', 'deployments', any, false],
        ['api', 'get', 'deployments', any, true],
        ['api', 'delete', 'deployments', any, false],
        ['api', 'create', 'namespaces', [], false],
        ['watcher', 'list', 'deployments', ['-A'], true],
        ['watcher', 'watch', 'deployments', ['-A'], true],
        ['watcher', 'patch', 'deployments', any, false],
        ['watcher', 'create', 'namespaces', [], false],
        ['reconciler', 'list', 'deployments', ['-A'], true],
        ['reconciler', 'create', 'deployments', any, false],
        ['reconciler', 'create', 'namespaces', [], false],
      ];
      const got = await Promise.all(
        rows.map(async ([role, verb, resource, flags, expected]) => {
          const allowed = await canI(pattern.ns, role, verb, resource, flags);
          return [
            `${role} ${verb} ${resource} ${flags.join(' ')}: ${allowed}`,
            `${role} ${verb} ${resource} ${flags.join(' ')}: ${expected}`,
          ];
        }),
      );
      expect(got.map((g) => g[0])).toEqual(got.map((g) => g[1]));
    });

    it('helm uninstall removes the role Deployments and the ClusterRoles', async () => {
      await ok(helm, ['uninstall', RELEASE, '-n', pattern.ns, '--wait']);
      const left = await ok(kubectl, [
        'get',
        'deployments,clusterroles,clusterrolebindings',
        '-A',
        '-l',
        `app.kubernetes.io/instance=${RELEASE}`,
        '-o',
        'name',
      ]);
      expect(left.split('\n').filter((l) => l.includes(pattern.ns))).toEqual([]);
      const deployments = await ok(kubectl, ['get', 'deployments', '-n', pattern.ns, '-o', 'name']);
      expect(deployments.trim()).toBe('');
    });
  });
});
