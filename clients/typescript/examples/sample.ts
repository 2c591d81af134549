/**
 * A sample program on the client: create a Deployment, wait for its request, list what is
 * running. test/unit/typescript-client.spec.ts type-checks it (with the lines marked
 * @ts-expect-error, which must stay errors), so a change to the API that breaks callers
 * breaks this file first. Run: KDM_URL=http://127.0.0.1:3000 KDM_TOKEN=kdm_… node sample.js
 */
import {
  createKdmClient,
  describeApiError,
  FINAL_STATUSES,
  isDryRunResult,
  requestRecordOf,
  type RequestRecord,
} from '../src/index.js';

const client = createKdmClient({
  baseUrl: process.env.KDM_URL ?? 'http://127.0.0.1:3000',
  token: process.env.KDM_TOKEN,
});

async function waitFor(requestId: string): Promise<RequestRecord> {
  for (;;) {
    const { data, error, response } = await client.GET('/v1/requests/{requestId}', {
      params: { path: { requestId } },
    });
    if (error) throw new Error(describeApiError(response.status, error));
    if (FINAL_STATUSES.includes(data.status)) return data;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function main(): Promise<void> {
  const created = await client.POST('/v1/deployments', {
    body: { namespace: 'demo', name: 'web', image: 'nginx:1.27', replicas: 2, labels: { team: 'payments' } },
    params: { header: { 'Idempotency-Key': 'sample-web-1' } },
  });
  if (created.error) throw new Error(describeApiError(created.response.status, created.error));
  // A write answers its request record (202), or with ?dryRun=true what it would change (200).
  const done = await waitFor(requestRecordOf(created.data).requestId);
  console.log(`${done.operation} ${done.namespace}/${done.name}: ${done.status}`, done.error?.message ?? '');

  const page = await client.GET('/v1/deployments', {
    params: { query: { namespace: 'demo', label: ['team=payments'] } },
  });
  for (const d of page.data?.items ?? []) console.log(d.name, `${d.readyReplicas}/${d.desiredReplicas}`, d.rollout);

  const dryRun = await client.PATCH('/v1/deployments/{namespace}/{name}', {
    params: { path: { namespace: 'demo', name: 'web' }, query: { dryRun: true } },
    body: { replicas: 3 },
  });
  if (dryRun.data && isDryRunResult(dryRun.data))
    for (const c of dryRun.data.changes) console.log(`${c.path}: ${String(c.from)} → ${String(c.to)}`);

  await client.PATCH('/v1/deployments/{namespace}/{name}', {
    params: { path: { namespace: 'demo', name: 'web' } },
    body: { replicas: 3 },
  });

  // What the types refuse: each line below must stay a compile error.
  // @ts-expect-error replicas is a number
  await client.POST('/v1/deployments', { body: { namespace: 'demo', name: 'web', image: 'nginx', replicas: 'two' } });
  // @ts-expect-error image is required
  await client.POST('/v1/deployments', { body: { namespace: 'demo', name: 'web', replicas: 1 } });
  // @ts-expect-error no such path
  await client.GET('/v1/deployment');
  // @ts-expect-error the path parameters are required
  await client.GET('/v1/requests/{requestId}', {});
  // @ts-expect-error status is one of the request statuses
  await client.GET('/v1/requests', { params: { query: { status: 'DONE' } } });
  // @ts-expect-error a request record has no field "state"
  console.log(done.state);
  // @ts-expect-error a write's answer may be a dry-run result: narrow it first (requestRecordOf)
  console.log(created.data.requestId);
}

await main();
