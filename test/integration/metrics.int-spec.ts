import { randomUUID } from 'node:crypto';
import type { Running } from '../../src/bootstrap.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/domain/deployment-spec.js';
import { NatsClient } from '../../src/messaging/nats-client.js';
import { Operation, SpecMode } from '../../src/requests/deployment-request.entity.js';
import { RequestsRepository } from '../../src/requests/requests.repository.js';
import { ReconcilerService } from '../../src/reconciler/reconciler.service.js';
import { adminAuth, eventually, http, kube, settled, uniqueId } from '../support/harness.js';
import { useSuite } from '../support/fixture.js';

/** Where a booted app serves /metrics: the one place that knows it. */
const metricsUrl = (app: Running) => `${app.healthUrl}/metrics`;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Scrapes an app and parses the Prometheus text format into samples. */
async function scrape(app: Running): Promise<Sample[]> {
  const res = await fetch(metricsUrl(app), { headers: adminAuth() });
  expect(res.status).toBe(200);
  const samples: Sample[] = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample with this name and (at least) these labels; undefined when absent. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.length ? found.reduce((n, s) => n + s.value, 0) : undefined;
}

describe('metrics', () => {
  const ns = `mx-${uniqueId()}`;
  const suite = useSuite({
    namespaces: [ns],
    env: {
      ROLE: 'api,worker,reconciler',
      MANAGED_NAMESPACES: ns,
      // The tests drive the outbox and the reconciler themselves.
      OUTBOX_RELAY_INTERVAL_MS: '3600000',
      RECONCILE_CRON: '0 0 1 1 *',
    },
  });

  it('counts and times the API by route template and status, never by raw path', async () => {
    const before = await scrape(suite.app);
    const accepted = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'web',
      image: 'nginx:1.27',
      replicas: 1,
    });
    expect(accepted.status).toBe(202);
    const requestId: string = accepted.body.requestId;
    await settled(suite.api, requestId);
    expect((await http(suite.api, 'GET', `/v1/no-such-route/${requestId}`)).status).toBe(404);
    expect((await http(suite.api, 'POST', '/v1/deployments', '{"namespace":')).status).toBe(400);

    const after = await scrape(suite.app);
    const post = { method: 'POST', route: '/v1/deployments', status: '202' };
    expect(value(after, 'dm_http_requests_total', post)).toBe((value(before, 'dm_http_requests_total', post) ?? 0) + 1);
    expect(value(after, 'dm_http_request_duration_seconds_count', post)).toBe(
      value(after, 'dm_http_requests_total', post),
    );
    expect(
      value(after, 'dm_http_requests_total', { method: 'GET', route: '/v1/requests/:requestId', status: '200' }),
    ).toBeGreaterThanOrEqual(1);
    // Unknown paths and bodies refused before routing share one label value.
    expect(value(after, 'dm_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(value(after, 'dm_http_requests_total', { method: 'POST', route: 'unmatched', status: '400' })).toBe(1);
    const routes = after.filter((s) => s.name === 'dm_http_requests_total').map((s) => s.labels.route);
    expect(routes.some((r) => r.includes(requestId))).toBe(false);
  });

  it('a request moves the request, worker, Kubernetes and JetStream series', async () => {
    const before = await scrape(suite.app);
    const accepted = await http(suite.api, 'POST', '/v1/deployments', {
      namespace: ns,
      name: 'api',
      image: 'nginx:1.27',
      replicas: 1,
    });
    expect(await settled(suite.api, accepted.body.requestId)).toMatchObject({ status: 'SUCCESS' });
    // Nothing known of it: the worker reads (404) and fails the request NotFound.
    const missing = await http(suite.api, 'PATCH', `/v1/deployments/${ns}/never-created`, { replicas: 2 });
    expect(await settled(suite.api, missing.body.requestId)).toMatchObject({ status: 'FAILURE' });

    const created = { operation: 'CREATE', status: 'SUCCESS' };
    const after = await eventually(async () => {
      const s = await scrape(suite.app);
      // Read from PostgreSQL at most every 5 s: wait for a reading taken after the request ended.
      return (value(s, 'dm_requests', { status: 'SUCCESS' }) ?? 0) >
        (value(before, 'dm_requests', { status: 'SUCCESS' }) ?? 0)
        ? s
        : undefined;
    }, 20_000);
    expect(value(after, 'dm_request_accepted_to_terminal_seconds_count', created)).toBe(
      (value(before, 'dm_request_accepted_to_terminal_seconds_count', created) ?? 0) + 1,
    );
    expect(value(after, 'dm_requests_completed_total', { ...created, code: '' })).toBeGreaterThanOrEqual(1);
    for (const status of ['CREATED', 'QUEUED', 'PROCESSING', 'FAILURE'])
      expect(value(after, 'dm_requests', { status })).toBeGreaterThanOrEqual(0);
    expect(value(after, 'dm_worker_processing_seconds_count', { outcome: 'finished' })).toBeGreaterThan(
      value(before, 'dm_worker_processing_seconds_count', { outcome: 'finished' }) ?? 0,
    );
    expect(value(after, 'dm_worker_lock_wait_seconds_count', { acquired: 'true' })).toBeGreaterThan(
      value(before, 'dm_worker_lock_wait_seconds_count', { acquired: 'true' }) ?? 0,
    );
    // The CREATE is one create (201); the PATCH of what does not exist read it (404).
    expect(value(after, 'dm_kubernetes_call_seconds_count', { verb: 'get', code: '404' })).toBeGreaterThan(
      value(before, 'dm_kubernetes_call_seconds_count', { verb: 'get', code: '404' }) ?? 0,
    );
    expect(value(after, 'dm_kubernetes_call_errors_total', { verb: 'get', code: '404' })).toBeGreaterThan(
      value(before, 'dm_kubernetes_call_errors_total', { verb: 'get', code: '404' }) ?? 0,
    );
    expect(value(after, 'dm_kubernetes_call_seconds_count', { code: '201' })).toBeGreaterThanOrEqual(1);
    const consumer = { stream: suite.config.NATS_STREAM, consumer: suite.config.NATS_CONSUMER };
    expect(value(after, 'dm_jetstream_consumer_pending_messages', consumer)).toBe(0);
    expect(value(after, 'dm_jetstream_consumer_ack_pending_messages', consumer)).toBe(0);
    expect(value(after, 'dm_jetstream_dlq_messages', { stream: suite.config.NATS_DLQ_STREAM })).toBe(0);
    expect(value(after, 'dm_scrape_source_errors_total')).toBeUndefined();
  });

  it('the outbox backlog and its oldest CREATED age come from PostgreSQL; a reconcile pass records its duration and counts', async () => {
    const repo = suite.app.app.get(RequestsRepository);
    const requestId = randomUUID();
    await repo.insertIfAbsent({
      requestId,
      operation: Operation.DELETE,
      namespace: ns,
      name: 'never-published',
      spec: null,
      specMode: SpecMode.REPLACE,
      bodyHash: '0'.repeat(64),
      deadlineMs: 600_000,
      requestedBy: { keyId: null, name: 'metrics-test' },
      idempotencyKey: null,
    });
    // Accepted an hour ago and never published: what a lost publish looks like.
    await suite.pool.query(
      `UPDATE deployment_requests SET created_at = now() - interval '1 hour', updated_at = now() - interval '1 hour'
        WHERE request_id = $1`,
      [requestId],
    );
    const stuck = await eventually(async () => {
      const s = await scrape(suite.app);
      return (value(s, 'dm_outbox_backlog_requests') ?? 0) >= 1 ? s : undefined;
    }, 20_000);
    expect(value(stuck, 'dm_requests', { status: 'CREATED' })).toBe(value(stuck, 'dm_outbox_backlog_requests'));
    expect(value(stuck, 'dm_outbox_oldest_created_age_seconds')).toBeGreaterThanOrEqual(3600);

    const run = await suite.app.app.get(ReconcilerService).runOnce();
    expect(run.republished).toBe(1);
    await settled(suite.api, requestId);
    const after = await eventually(async () => {
      const s = await scrape(suite.app);
      return value(s, 'dm_outbox_backlog_requests') === 0 ? s : undefined;
    }, 20_000);
    expect(value(after, 'dm_outbox_oldest_created_age_seconds')).toBe(0);
    expect(value(after, 'dm_reconcile_pass_seconds_count', { trigger: 'once', result: 'succeeded' })).toBe(1);
    expect(value(after, 'dm_reconcile_items_total', { kind: 'republished' })).toBe(1);
    expect(value(after, 'dm_reconcile_runs_total', { trigger: 'once', result: 'succeeded' })).toBe(1);
    expect(value(after, 'dm_reconcile_last_success_timestamp_seconds')).toBeGreaterThan(0);
  });

  it('the DLQ gauge counts the dead-letter stream', async () => {
    await suite.app.app
      .get(NatsClient)
      .jetstream()
      .publish(suite.config.NATS_DLQ_SUBJECT, JSON.stringify({ requestId: 'dead' }));
    const s = await eventually(async () => {
      const s = await scrape(suite.app);
      return value(s, 'dm_jetstream_dlq_messages', { stream: suite.config.NATS_DLQ_STREAM }) === 1 ? s : undefined;
    }, 20_000);
    expect(value(s, 'dm_jetstream_dlq_messages')).toBe(1);
  });
});

describe('metrics of the watcher role', () => {
  const ns = `mxw-${uniqueId()}`;
  const { apps } = kube();
  const suite = useSuite({
    namespaces: [ns],
    createNamespaces: true,
    env: { ROLE: 'watcher', MANAGED_NAMESPACES: ns },
  });

  it('reports leader state, last-event age, relists and events with their lag, and no request or JetStream gauges', async () => {
    const led = await eventually(async () => {
      const s = await scrape(suite.app);
      return value(s, 'dm_watcher_leader') === 1 && value(s, 'dm_watcher_relists_total', { reason: 'initial' })
        ? s
        : undefined;
    }, 60_000);
    expect(value(led, 'dm_watcher_last_event_age_seconds')).toBeGreaterThanOrEqual(0);
    // Only roles that keep request records or talk to NATS read them: a watcher reports no made-up zeros.
    expect(value(led, 'dm_requests')).toBeUndefined();
    expect(value(led, 'dm_outbox_backlog_requests')).toBeUndefined();
    expect(value(led, 'dm_jetstream_dlq_messages')).toBeUndefined();

    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        // Managed-by: the watcher mirrors only ours unless WATCH_ALL_DEPLOYMENTS.
        metadata: { name: 'oob', labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'oob' } },
          template: {
            metadata: { labels: { app: 'oob' } },
            spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
          },
        },
      },
    });
    // The event is counted on arrival, its lag once its mirror row is committed.
    const grew = (s: Sample[], name: string, labels: Record<string, string> = {}) =>
      (value(s, name, labels) ?? 0) > (value(led, name, labels) ?? 0);
    const moved = eventually(async () => {
      const s = await scrape(suite.app);
      return grew(s, 'dm_watcher_events_total', { type: 'ADDED' }) && grew(s, 'dm_watcher_event_lag_seconds_count');
    }, 30_000);
    await expect(moved).resolves.toBe(true);
  });
});
