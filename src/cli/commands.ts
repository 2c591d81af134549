import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type {
  ApiKey,
  DeploymentDetail,
  DeploymentRecord,
  DeploymentSpec,
  DryRunResult,
  PatchDeployment,
  RequestRecord,
  RevisionHistory,
} from '../../clients/typescript/src/index.js';
import { requestRecordOf } from '../../clients/typescript/src/index.js';
import { Api } from './api.js';
import { CliError, DIFF_EXIT, EXIT } from './cli-error.js';
import { completionScript, SHELLS, type Shell } from './completion.js';
import { readManifests, type Manifest } from './manifests.js';
import { age, humanDuration, keyValues, none, OUTPUT_FORMATS, render, table, type OutputFormat } from './output.js';
import { eventLine, streamEvents } from './events.js';
import { rolloutExitCode, waitForRequest, waitForRollout } from './wait.js';

/** Where the program writes; tests and the entry point pass process streams. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Set by a command whose outcome is not plain success (wait: 1 on FAILURE, 2 on timeout). */
  exitCode: number;
}

interface GlobalOptions {
  server: string;
  token?: string;
  output: OutputFormat;
}

const API_ROLES = ['reader', 'writer', 'admin'] as const;
const EVENT_TYPES = [
  'request.status',
  'request.rollout',
  'deployment.changed',
  'deployment.deleted',
  'deployment.drift',
];
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function duration(value: string): number {
  const m = /^(\d{1,7})(ms|s|m|h|d)$/.exec(value);
  if (!m || Number(m[1]) === 0) throw new InvalidArgumentError('use a positive number and a unit: 500ms, 30s, 5m, 1h');
  return Number(m[1]) * DURATION_UNITS[m[2]];
}

function integer(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError('not an integer');
  return Number(value);
}

/** `k=v`, collected into a map (repeatable flags). */
function pair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`"${value}" is not key=value`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** `namespace/name`. */
function target(value: string): { namespace: string; name: string } {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(value);
  if (!m) throw new CliError(`"${value}" is not namespace/name (e.g. demo/web)`);
  return { namespace: m[1], name: m[2] };
}

/** The API's nullable strings (cursors, times), for places that take an optional string. */
const str = (v: string | null | undefined): string | undefined => v ?? undefined;

function requestsTable(items: RequestRecord[]): string {
  if (items.length === 0) return 'No requests found.';
  return table(
    ['ID', 'OPERATION', 'NAMESPACE', 'NAME', 'STATUS', 'ATTEMPTS', 'AGE', 'ERROR'],
    items.map((r) => [
      r.requestId,
      r.operation,
      r.namespace,
      r.name,
      r.status,
      String(r.attempts),
      age(r.createdAt),
      r.error ? `${r.error.code}: ${r.error.message}`.slice(0, 80) : '',
    ]),
  );
}

function deploymentsTable(items: DeploymentRecord[], withNamespace: boolean): string {
  if (items.length === 0) return 'No deployments found.';
  const header = ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'ROLLOUT', 'DRIFTED', 'IMAGES', 'AGE'];
  return table(
    withNamespace ? ['NAMESPACE', ...header] : header,
    items.map((d) => {
      const row = [
        d.name,
        `${d.readyReplicas}/${d.desiredReplicas}`,
        String(d.updatedReplicas),
        String(d.availableReplicas),
        str(d.deletedAt) ? 'DELETED' : d.rollout,
        d.drifted ? 'yes' : 'no',
        d.images.join(','),
        age(str(d.kubernetesCreatedAt) ?? d.createdAt),
      ];
      return withNamespace ? [d.namespace, ...row] : row;
    }),
  );
}

function keyStatus(k: ApiKey, now = Date.now()): string {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && Date.parse(k.expiresAt) <= now) return 'expired';
  return 'active';
}

function keysTable(items: ApiKey[]): string {
  if (items.length === 0) return 'No API keys found.';
  return table(
    ['ID', 'NAME', 'ROLE', 'NAMESPACES', 'PREFIX', 'STATUS', 'AGE', 'EXPIRES', 'LAST-USED'],
    items.map((k) => [
      k.id,
      k.name,
      k.role,
      k.namespaces.join(','),
      k.prefix,
      keyStatus(k),
      age(k.createdAt),
      k.expiresAt ? humanDuration(Date.parse(k.expiresAt) - Date.now()) : '<never>',
      k.lastUsedAt ? age(k.lastUsedAt) : '<never>',
    ]),
  );
}

function describeDeployment(detail: DeploymentDetail): string {
  const d = detail.deployment;
  const field = (name: string, value: string) => `${`${name}:`.padEnd(20)}${value}`;
  const indent = (text: string) =>
    text
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n');
  const lines = [
    field('Name', d.name),
    field('Namespace', d.namespace),
    field('UID', none(d.uid)),
    field('Labels', keyValues(d.labels) || '<none>'),
    field('Images', d.images.join(',') || '<none>'),
    field(
      'Replicas',
      `${d.desiredReplicas} desired | ${d.updatedReplicas} updated | ${d.readyReplicas} ready | ` +
        `${d.availableReplicas} available | ${d.unavailableReplicas} unavailable`,
    ),
    field('Rollout', d.rollout),
    field('Drifted', d.drifted ? 'yes' : 'no'),
    field('Generation', `${d.generation} (observed ${d.observedGeneration})`),
    field('Resource version', d.resourceVersion),
    field('Last request', none(str(d.lastRequestId))),
    field(
      'Created',
      `${none(str(d.kubernetesCreatedAt) ?? d.createdAt)} (${age(str(d.kubernetesCreatedAt) ?? d.createdAt)} ago)`,
    ),
  ];
  const deletedAt = str(d.deletedAt);
  if (deletedAt) lines.push(field('Deleted', `${deletedAt} (${age(deletedAt)} ago)`));
  lines.push(field('Source', `${detail.source}, synced ${none(str(detail.syncedAt))}`));
  lines.push('Spec:', d.spec ? indent(render('yaml', d.spec, () => '')) : '  <none>');
  if (d.drift) {
    // Who changed what: each drifted field by its owners now, then the fields another controller manages.
    const rows = [
      ...d.drift.fields.flatMap((f) =>
        f.managers.length
          ? f.managers.map((m) => [f.field, 'drift', m.manager, m.changedAt ? `${age(m.changedAt)} ago` : '<unknown>'])
          : [[f.field, 'drift', '<unknown>', '<unknown>']],
      ),
      ...d.drift.managedElsewhere.map((m) => [
        m.field,
        'managedElsewhere',
        m.manager,
        m.changedAt ? `${age(m.changedAt)} ago` : '<unknown>',
      ]),
    ];
    lines.push(
      `Drift (checked ${d.drift.checkedAt}):`,
      rows.length ? indent(table(['FIELD', 'STATE', 'MANAGER', 'CHANGED'], rows)) : '  <none>',
    );
  }
  lines.push(
    'Conditions:',
    d.conditions.length === 0
      ? '  <none>'
      : indent(
          table(
            ['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
            d.conditions.map((c) => [c.type, c.status, none(c.reason), age(c.lastTransitionTime), c.message ?? '']),
          ),
        ),
  );
  lines.push(
    'Recent requests:',
    detail.recentRequests.length === 0 ? '  <none>' : indent(requestsTable(detail.recentRequests)),
  );
  return lines.join('\n');
}

/** One row per revision, oldest first; `*` marks the one in effect, and a line's end is said below it. */
function revisionsTable(h: RevisionHistory): string {
  const ended = new Map(h.lines.filter((l) => l.deletedByRequestId).map((l) => [l.toRevision, l]));
  const rows = h.items.map((r) => [
    `${r.revision}${r.revision === h.current ? '*' : ''}`,
    String(r.line),
    r.rollbackOf ? `ROLLBACK to ${r.rollbackOf.revision}` : r.specMode === 'MERGE' ? 'PATCH' : r.operation,
    none(r.spec.image as string | undefined),
    none(r.spec.replicas as number | undefined),
    none(r.requestedBy?.name),
    age(r.completedAt),
    r.requestId + (ended.has(r.revision) ? ` (line ${ended.get(r.revision)!.line} deleted)` : ''),
  ]);
  return table(['REVISION', 'LINE', 'CHANGE', 'IMAGE', 'REPLICAS', 'BY', 'AGE', 'REQUEST'], rows);
}

/** What `kdm diff` found for one document. */
interface DocumentDiff extends DryRunResult {
  namespace: string;
  name: string;
  /** What apply would send: a create, or a replace of the spec. */
  operation: 'create' | 'replace';
}

const diffValue = (v: string | number | null) => (v === null ? '<none>' : JSON.stringify(v));

/** `deployment ns/name (replace): 1 change`, then `  path: from → to` per change. */
export function diffText(diffs: DocumentDiff[]): string {
  return diffs
    .map((d) => {
      const n = d.changes.length;
      const head = `deployment ${d.namespace}/${d.name} (${d.operation}): ${n ? `${n} change${n === 1 ? '' : 's'}` : 'no changes'}`;
      return [head, ...d.changes.map((c) => `  ${c.path}: ${diffValue(c.from)} → ${diffValue(c.to)}`)].join('\n');
    })
    .join('\n');
}

/** The spec of a document: its fields but namespace and name. */
const specOf = (m: Manifest) =>
  Object.fromEntries(Object.entries(m.body).filter(([k]) => k !== 'namespace' && k !== 'name')) as DeploymentSpec;

/** Builds the `kdm` program; `io` receives its output and the exit code a command asks for. */
export function buildProgram(io: Io): Command {
  // Set before the subcommands are added: they copy these settings when made.
  const program = new Command('kdm')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
      // Usage errors in one line, like every other refusal.
      outputError: (s, write) => write(`kdm: ${s.trim().replace(/^error: /, '')} (see kdm --help)\n`),
    })
    .description('Command-line client of the k8s-deployment-manager API')
    .addOption(new Option('-s, --server <url>', 'the API address').env('KDM_URL').default('http://127.0.0.1:3000'))
    .addOption(new Option('--token <key>', 'an API key (kdm_…)').env('KDM_TOKEN'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .addHelpText(
      'after',
      '\nExit codes: 0 success; 1 refused, unreachable, bad input, or the request ended FAILURE; 2 wait timed out.',
    );

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  const api = (cmd: Command) => {
    const g = globals(cmd);
    return new Api({ server: g.server, token: g.token });
  };
  const print = <T>(cmd: Command, value: T, asTable: (value: T) => string) =>
    io.out(render(globals(cmd).output, value, asTable));

  const writeOptions = (c: Command) =>
    c
      .option('--idempotency-key <key>', 'makes the call safe to repeat (Idempotency-Key header)')
      .option('--wait', 'wait until the request ends SUCCESS or FAILURE')
      .option('--timeout <duration>', 'how long --wait waits', duration, 600_000);

  /** After a write: prints the record, or waits for it (exit code 1 on FAILURE, 2 on timeout). */
  async function finishWrite(
    cmd: Command,
    a: Api,
    answers: (RequestRecord | DryRunResult)[],
    o: { wait?: boolean; timeout: number },
  ) {
    // Sent without dryRun, every answer is a request record.
    let records = answers.map(requestRecordOf);
    if (o.wait) {
      const ended: RequestRecord[] = [];
      for (const r of records) {
        const done = await waitFor(a, r.requestId, o.timeout);
        if (done) ended.push(done);
      }
      records = ended;
    }
    print(cmd, records, (rs) =>
      rs
        .map((r) => `deployment ${r.namespace}/${r.name}: ${r.operation} ${r.status} (request ${r.requestId})`)
        .join('\n'),
    );
  }

  async function waitFor(a: Api, requestId: string, timeoutMs: number): Promise<RequestRecord | undefined> {
    const done = await waitForRequest(a, requestId, { timeoutMs, intervalMs: 500, progress: (l) => io.err(l) });
    if (!done) {
      io.err(`kdm: request ${requestId}: still not finished after ${timeoutMs / 1000}s`);
      io.exitCode = Math.max(io.exitCode, EXIT.TIMEOUT);
    } else if (done.status === 'FAILURE') {
      io.err(
        `kdm: request ${requestId} ended FAILURE: ${done.error ? `${done.error.code}: ${done.error.message}` : 'no reason given'}`,
      );
      if (io.exitCode !== EXIT.TIMEOUT) io.exitCode = EXIT.FAILED;
    }
    return done;
  }

  /**
   * What apply sends for a document: a create when Kubernetes has no such Deployment now (a
   * strong read), else a replace of its spec (PUT: fields left out are removed).
   */
  async function applyOperation(a: Api, m: Manifest, where: string): Promise<'create' | 'replace'> {
    const { namespace, name } = m.body;
    const current = await a.send(
      a.client.GET('/v1/deployments/{namespace}/{name}', {
        params: { path: { namespace, name }, query: { consistency: 'strong' } },
      }),
    );
    if (current.error === undefined) return 'replace';
    if (current.response.status === 404) return 'create';
    throw new CliError(`${where}: ${a.explain(current.response.status, current.error)}`);
  }

  writeOptions(
    program
      .command('apply')
      .description('Create or replace Deployments from YAML or JSON files (several documents per file; - is stdin)')
      .requiredOption('-f, --filename <file>', 'a file of deployment documents (repeatable)', collect),
  ).action(
    async (o: { filename: string[]; idempotencyKey?: string; wait?: boolean; timeout: number }, cmd: Command) => {
      const a = api(cmd);
      const records: (RequestRecord | DryRunResult)[] = [];
      let failed = 0;
      for (const m of readManifests(o.filename)) {
        const { namespace, name } = m.body;
        const where = `${m.source} (${namespace}/${name})`;
        const header = o.idempotencyKey ? { 'Idempotency-Key': `${o.idempotencyKey}:${m.source}` } : {};
        try {
          if ((await applyOperation(a, m, where)) === 'create') {
            records.push(await a.call(where, a.client.POST('/v1/deployments', { body: m.body, params: { header } })));
          } else {
            records.push(
              await a.call(
                where,
                a.client.PUT('/v1/deployments/{namespace}/{name}', {
                  body: specOf(m),
                  params: { path: { namespace, name }, header },
                }),
              ),
            );
          }
        } catch (e) {
          if (!(e instanceof CliError)) throw e;
          io.err(`kdm: ${e.message}`);
          failed++;
        }
      }
      await finishWrite(cmd, a, records, o);
      if (failed > 0) io.exitCode = Math.max(io.exitCode, EXIT.FAILED);
    },
  );

  program
    .command('diff')
    .description(
      'Show what apply -f would change, from a server-side dry run (nothing is changed or recorded). ' +
        'Exit 0: no changes; 1: changes; 2: an error',
    )
    .requiredOption('-f, --filename <file>', 'a file of deployment documents (repeatable)', collect)
    // Like kubectl diff, 1 means "changes", so every failure, usage errors too, exits 2.
    .exitOverride((e) => {
      throw e.exitCode === 0 ? e : new CommanderError(DIFF_EXIT.ERROR, e.code, e.message);
    })
    .action(async (o: { filename: string[] }, cmd: Command) => {
      let failed = 0;
      const diffs: DocumentDiff[] = [];
      try {
        const a = api(cmd);
        for (const m of readManifests(o.filename)) {
          const { namespace, name } = m.body;
          const where = `${m.source} (${namespace}/${name})`;
          try {
            const operation = await applyOperation(a, m, where);
            const query = { dryRun: true };
            // The route answers 202 with a record without dryRun, 200 with the diff with it.
            const result = (await a.call(
              where,
              operation === 'create'
                ? a.client.POST('/v1/deployments', { body: m.body, params: { query } })
                : a.client.PUT('/v1/deployments/{namespace}/{name}', {
                    body: specOf(m),
                    params: { path: { namespace, name }, query },
                  }),
            )) as DryRunResult;
            for (const w of result.warnings) io.err(`kdm: warning: ${where}: ${w}`);
            diffs.push({ namespace, name, operation, ...result });
          } catch (e) {
            if (!(e instanceof CliError)) throw e;
            io.err(`kdm: ${e.message}`);
            failed++;
          }
        }
      } catch (e) {
        throw new CliError(e instanceof Error ? e.message : String(e), DIFF_EXIT.ERROR);
      }
      print(cmd, diffs, diffText);
      io.exitCode = failed ? DIFF_EXIT.ERROR : diffs.some((d) => d.wouldChange) ? DIFF_EXIT.CHANGED : DIFF_EXIT.SAME;
    });

  writeOptions(
    program
      .command('create')
      .description('Create a Deployment')
      .argument('<namespace/name>', 'the Deployment')
      .requiredOption('--image <image>', 'container image, e.g. nginx:1.27')
      .option('--replicas <n>', 'number of replicas', integer, 1)
      .option('--port <n>', 'container port', integer)
      .option('--env <k=v>', 'an environment variable (repeatable)', pair)
      .option('-l, --label <k=v>', 'a label (repeatable)', pair)
      .option('--annotation <k=v>', 'an annotation (repeatable)', pair),
  ).action(
    async (
      ref: string,
      o: {
        image: string;
        replicas: number;
        port?: number;
        env?: Record<string, string>;
        label?: Record<string, string>;
        annotation?: Record<string, string>;
        idempotencyKey?: string;
        wait?: boolean;
        timeout: number;
      },
      cmd: Command,
    ) => {
      const { namespace, name } = target(ref);
      const a = api(cmd);
      const record = await a.call(
        `create ${ref}`,
        a.client.POST('/v1/deployments', {
          body: {
            namespace,
            name,
            image: o.image,
            replicas: o.replicas,
            containerPort: o.port,
            env: o.env,
            labels: o.label,
            annotations: o.annotation,
          },
          params: { header: o.idempotencyKey ? { 'Idempotency-Key': o.idempotencyKey } : {} },
        }),
      );
      await finishWrite(cmd, a, [record], o);
    },
  );

  writeOptions(
    program
      .command('patch')
      .description('Change some fields of a Deployment (each given field replaces the current value whole)')
      .argument('<namespace/name>', 'the Deployment')
      .option('--image <image>', 'container image')
      .option('--replicas <n>', 'number of replicas', integer)
      .option('--env <k=v>', 'the environment, whole (repeatable)', pair)
      .option('-l, --label <k=v>', 'the labels, whole (repeatable)', pair)
      .option('--annotation <k=v>', 'the annotations, whole (repeatable)', pair)
      .option('-p, --patch <json>', 'the fields as a JSON object, e.g. \'{"replicas":3}\''),
  ).action(
    async (
      ref: string,
      o: {
        image?: string;
        replicas?: number;
        env?: Record<string, string>;
        label?: Record<string, string>;
        annotation?: Record<string, string>;
        patch?: string;
        idempotencyKey?: string;
        wait?: boolean;
        timeout: number;
      },
      cmd: Command,
    ) => {
      const { namespace, name } = target(ref);
      let body: PatchDeployment = {};
      if (o.patch !== undefined) {
        try {
          body = JSON.parse(o.patch) as PatchDeployment;
        } catch (e) {
          throw new CliError(`--patch: not JSON (${(e as Error).message})`);
        }
      }
      const flags: PatchDeployment = {
        image: o.image,
        replicas: o.replicas,
        env: o.env,
        labels: o.label,
        annotations: o.annotation,
      };
      for (const [k, v] of Object.entries(flags)) if (v !== undefined) Object.assign(body, { [k]: v });
      if (Object.keys(body).length === 0)
        throw new CliError('patch: give at least one field (--image, --replicas, --env, -l, --annotation or -p)');
      const a = api(cmd);
      const record = await a.call(
        `patch ${ref}`,
        a.client.PATCH('/v1/deployments/{namespace}/{name}', {
          body,
          params: {
            path: { namespace, name },
            header: o.idempotencyKey ? { 'Idempotency-Key': o.idempotencyKey } : {},
          },
        }),
      );
      await finishWrite(cmd, a, [record], o);
    },
  );

  writeOptions(
    program.command('delete').description('Delete a Deployment').argument('<namespace/name>', 'the Deployment'),
  ).action(async (ref: string, o: { idempotencyKey?: string; wait?: boolean; timeout: number }, cmd: Command) => {
    const { namespace, name } = target(ref);
    const a = api(cmd);
    const record = await a.call(
      `delete ${ref}`,
      a.client.DELETE('/v1/deployments/{namespace}/{name}', {
        params: { path: { namespace, name }, header: o.idempotencyKey ? { 'Idempotency-Key': o.idempotencyKey } : {} },
      }),
    );
    await finishWrite(cmd, a, [record], o);
  });

  const get = program.command('get').description('List deployments or requests');

  get
    .command('deployments')
    .aliases(['deployment', 'deploy'])
    .description('List Deployments (from the mirror), every page')
    .option('-n, --namespace <namespace>', 'only this namespace')
    .option('-l, --selector <k=v>', 'only with this label (repeatable)', collect)
    .addOption(
      new Option('--rollout <state>', 'only in this rollout state').choices(['PROGRESSING', 'AVAILABLE', 'FAILED']),
    )
    .option('--drifted', 'only those the reconciler found drifted')
    .option('--include-deleted', 'also those deleted from Kubernetes')
    .action(
      async (
        o: {
          namespace?: string;
          selector?: string[];
          rollout?: 'PROGRESSING' | 'AVAILABLE' | 'FAILED';
          drifted?: boolean;
          includeDeleted?: boolean;
        },
        cmd: Command,
      ) => {
        const a = api(cmd);
        const items: DeploymentRecord[] = [];
        let cursor: string | undefined;
        do {
          const page = await a.call(
            'get deployments',
            a.client.GET('/v1/deployments', {
              params: {
                query: {
                  limit: 500,
                  cursor,
                  namespace: o.namespace,
                  label: o.selector,
                  rollout: o.rollout,
                  drifted: o.drifted,
                  includeDeleted: o.includeDeleted,
                },
              },
            }),
          );
          items.push(...page.items);
          cursor = str(page.nextCursor);
        } while (cursor);
        print(cmd, items, (ds) => deploymentsTable(ds, o.namespace === undefined));
      },
    );

  get
    .command('requests')
    .aliases(['request', 'req'])
    .description('List requests, newest first, or show one')
    .argument('[requestId]', 'only this request')
    .option('-n, --namespace <namespace>', 'only this namespace')
    .option('--name <name>', 'only this Deployment name')
    .addOption(
      new Option('--status <status>', 'only in this status').choices([
        'CREATED',
        'QUEUED',
        'PROCESSING',
        'SUCCESS',
        'FAILURE',
      ]),
    )
    .option('--limit <n>', 'at most this many', integer, 50)
    .action(
      async (
        requestId: string | undefined,
        o: { namespace?: string; name?: string; status?: RequestRecord['status']; limit: number },
        cmd: Command,
      ) => {
        const a = api(cmd);
        if (requestId !== undefined) {
          const r = await a.call(
            `request ${requestId}`,
            a.client.GET('/v1/requests/{requestId}', { params: { path: { requestId } } }),
          );
          print(cmd, r, (one) => requestsTable([one]));
          return;
        }
        const items: RequestRecord[] = [];
        let cursor: string | undefined;
        do {
          const page = await a.call(
            'get requests',
            a.client.GET('/v1/requests', {
              params: {
                query: {
                  limit: Math.min(500, o.limit - items.length),
                  cursor,
                  namespace: o.namespace,
                  name: o.name,
                  status: o.status,
                },
              },
            }),
          );
          items.push(...page.items);
          cursor = str(page.nextCursor);
        } while (cursor && items.length < o.limit);
        print(cmd, items, requestsTable);
      },
    );

  program
    .command('describe')
    .description('Show one Deployment in detail, with its recent requests')
    .argument('<kind>', 'deployment')
    .argument('<namespace/name>', 'the Deployment')
    .option('--strong', 'read from Kubernetes now instead of the mirror')
    .action(async (kind: string, ref: string, o: { strong?: boolean }, cmd: Command) => {
      if (!['deployment', 'deployments', 'deploy'].includes(kind))
        throw new CliError(`describe: unknown kind "${kind}" (only deployment)`);
      const { namespace, name } = target(ref);
      const a = api(cmd);
      const detail = await a.call(
        `deployment ${ref}`,
        a.client.GET('/v1/deployments/{namespace}/{name}', {
          params: { path: { namespace, name }, query: { consistency: o.strong ? 'strong' : 'eventual' } },
        }),
      );
      print(cmd, detail, describeDeployment);
    });

  program
    .command('wait')
    .description(
      'Wait until a request ends (exit code 0 SUCCESS, 1 FAILURE, 2 timed out), or with --rollout until its rollout ' +
        'is final (0 COMPLETE or GONE, 1 FAILURE or rollout FAILED, 2 timed out, 3 SUPERSEDED)',
    )
    .argument('<requestId>', 'the request')
    .option('--rollout', "wait for the request's rollout receipt (long-polls the API)")
    .option('--timeout <duration>', 'how long to wait', duration, 600_000)
    .option('--interval <duration>', 'how often to look (without --rollout)', duration, 500)
    .action(async (requestId: string, o: { timeout: number; interval: number; rollout?: boolean }, cmd: Command) => {
      const a = api(cmd);
      if (o.rollout) {
        const done = await waitForRollout(a, requestId, { timeoutMs: o.timeout, progress: (l) => io.err(l) });
        if (!done)
          throw new CliError(`request ${requestId}: rollout still not final after ${o.timeout / 1000}s`, EXIT.TIMEOUT);
        print(cmd, done, (r) => requestsTable([r]));
        const outcome = rolloutExitCode(done);
        if (outcome.line) io.err(`kdm: ${outcome.line}`);
        io.exitCode = outcome.code;
        return;
      }
      const done = await waitForRequest(a, requestId, {
        timeoutMs: o.timeout,
        intervalMs: o.interval,
        progress: (l) => io.err(l),
      });
      if (!done)
        throw new CliError(`request ${requestId}: still not finished after ${o.timeout / 1000}s`, EXIT.TIMEOUT);
      print(cmd, done, (r) => requestsTable([r]));
      if (done.status === 'FAILURE') {
        io.err(
          `kdm: request ${requestId} ended FAILURE: ${done.error ? `${done.error.code}: ${done.error.message}` : 'no reason given'}`,
        );
        io.exitCode = EXIT.FAILED;
      }
    });

  program
    .command('events')
    .description(
      'Print the events kept (request status and rollout, Deployment changes, deletions and drift), or follow new ones',
    )
    .option('-n, --namespace <namespace>', 'only this namespace')
    .option('--name <name>', 'only this Deployment')
    .option('--request <requestId>', 'only the events of this request')
    .option('--types <types>', `comma-separated: ${EVENT_TYPES.join(', ')}`, list)
    .option('-f, --follow', 'stream new events until interrupted (reconnects, resuming with Last-Event-ID)')
    .action(
      async (
        o: { namespace?: string; name?: string; request?: string; types?: string[]; follow?: boolean },
        cmd: Command,
      ) => {
        const a = api(cmd);
        const format = globals(cmd).output;
        const header = ['ID', 'TIME', 'TYPE', 'DEPLOYMENT', 'WHAT'];
        const rows: string[][] = [];
        const stop = new AbortController();
        const onSigint = () => stop.abort();
        process.once('SIGINT', onSigint);
        try {
          await streamEvents(a, {
            namespace: o.namespace,
            name: o.name,
            requestId: o.request,
            types: o.types,
            follow: !!o.follow,
            signal: stop.signal,
            notice: (line) => io.err(line),
            onEvent: (e) => {
              const record = { id: e.id, type: e.type, ...e.data };
              if (format === 'json') io.out(JSON.stringify(record));
              else if (format === 'yaml') io.out(`---\n${render('yaml', record, () => '')}`);
              // Following, each event is printed as it comes (no column alignment across events).
              else if (o.follow) io.out(eventLine(e).join('   '));
              else rows.push(eventLine(e));
            },
          });
        } finally {
          process.off('SIGINT', onSigint);
        }
        if (format === 'table' && !o.follow) io.out(rows.length ? table(header, rows) : 'No events found.');
      },
    );

  program
    .command('history')
    .description("List a Deployment's revisions (the desired spec after each successful change)")
    .argument('<namespace/name>', 'the Deployment')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const { namespace, name } = target(ref);
      const a = api(cmd);
      const history = await a.call(
        `history ${ref}`,
        a.client.GET('/v1/deployments/{namespace}/{name}/revisions', { params: { path: { namespace, name } } }),
      );
      print(cmd, history, revisionsTable);
    });

  writeOptions(
    program
      .command('rollback')
      .description("Queue a replace of a Deployment's spec with one of its revisions (see kdm history)")
      .argument('<namespace/name>', 'the Deployment')
      .requiredOption('--to <revision>', 'the revision to restore', integer),
  ).action(
    async (ref: string, o: { to: number; idempotencyKey?: string; wait?: boolean; timeout: number }, cmd: Command) => {
      const { namespace, name } = target(ref);
      const a = api(cmd);
      const record = await a.call(
        `rollback ${ref} to revision ${o.to}`,
        a.client.POST('/v1/deployments/{namespace}/{name}/rollback', {
          body: { revision: o.to },
          params: {
            path: { namespace, name },
            header: o.idempotencyKey ? { 'Idempotency-Key': o.idempotencyKey } : {},
          },
        }),
      );
      await finishWrite(cmd, a, [record], o);
    },
  );

  const keys = program.command('keys').description('Manage API keys (admin)');

  keys
    .command('create')
    .description('Create an API key; in table output the key alone goes to stdout (shown only this once)')
    .requiredOption('--name <name>', 'who or what uses it')
    .addOption(new Option('--role <role>', 'what it may do').choices(API_ROLES).makeOptionMandatory())
    .option(
      '--namespaces <list>',
      'comma-separated names and prefix* patterns, or * (required for reader and writer)',
      list,
    )
    .option('--expires-at <time>', 'an ISO 8601 time; default never')
    .action(
      async (
        o: { name: string; role: (typeof API_ROLES)[number]; namespaces?: string[]; expiresAt?: string },
        cmd: Command,
      ) => {
        const a = api(cmd);
        const created = await a.call(
          'keys create',
          a.client.POST('/v1/api-keys', {
            // Admin keys have scope * (the server names the problem if other namespaces are sent).
            body:
              o.role === 'admin'
                ? { name: o.name, role: 'admin', namespaces: o.namespaces as '*'[] | undefined, expiresAt: o.expiresAt }
                : { name: o.name, role: o.role, namespaces: o.namespaces ?? [], expiresAt: o.expiresAt },
          }),
        );
        print(cmd, created, (k) => {
          io.err(
            `Created API key ${k.id} "${k.name}" (${k.role}, namespaces ${k.namespaces.join(',')}). Store it now: it is shown only this once.`,
          );
          return k.key;
        });
      },
    );

  keys
    .command('list')
    .description('List API keys, newest first (never their secrets)')
    .action(async (_o: unknown, cmd: Command) => {
      const a = api(cmd);
      const page = await a.call('keys list', a.client.GET('/v1/api-keys'));
      print(cmd, page.items, keysTable);
    });

  keys
    .command('revoke')
    .description('Revoke an API key by id')
    .argument('<id>', 'the key id, as keys list shows it')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const a = api(cmd);
      const key = await a.call(`keys revoke ${id}`, a.client.DELETE('/v1/api-keys/{id}', { params: { path: { id } } }));
      print(cmd, key, (k) => `revoked ${k.id} "${k.name}"`);
    });

  program
    .command('reconcile')
    .description('Start a reconcile pass now (admin), or name the one already running')
    .action(async (_o: unknown, cmd: Command) => {
      const a = api(cmd);
      const accepted = await a.call('reconcile', a.client.POST('/v1/admin/reconcile'));
      print(cmd, accepted, (r) =>
        r.alreadyRunning ? `reconcile run ${r.runId} already running` : `reconcile run ${r.runId} started`,
      );
    });

  program
    .command('completion')
    .description('Print a shell completion script: source <(kdm completion bash)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(SHELLS))
    .action((shell: Shell) => io.out(completionScript(program, shell)));

  return program;
}
