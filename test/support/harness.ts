import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { AppConfig, loadConfig } from '../../src/config/app-config.js';
import { bootstrap, Running } from '../../src/bootstrap.js';

/** A short random id so suites sharing the stack never share names. */
export const uniqueId = (bytes = 4) => randomBytes(bytes).toString('hex');

/**
 * Config for one suite: the test database, and its own JetStream stream, consumer and
 * subjects, so suites and their workers never see each other's messages.
 */
export function testConfig(overrides: Record<string, string> = {}): AppConfig {
  const id = uniqueId();
  return loadConfig({
    ...process.env,
    DATABASE_URL: process.env.TEST_DATABASE_URL,
    HTTP_PORT: '0',
    HEALTH_PORT: '0',
    LOG_LEVEL: 'warn',
    NATS_STREAM: `T_${id}`,
    NATS_SUBJECT: `t.${id}.requests`,
    NATS_CONSUMER: `t-${id}`,
    NATS_DLQ_STREAM: `T_${id}_DLQ`,
    NATS_DLQ_SUBJECT: `t.${id}.dlq`,
    NATS_CONTROL_SUBJECT: `t.${id}.control`,
    ...overrides,
  });
}

/** Config for a second app of a suite (another API, another worker) on that suite's streams and subjects. */
export function sameStreams(config: AppConfig, overrides: Record<string, string> = {}): AppConfig {
  return Object.assign(
    testConfig({ MANAGED_NAMESPACES: config.MANAGED_NAMESPACES.join(','), ...overrides }),
    streamsOf(config),
  );
}

/** A suite's own JetStream stream, consumer and subjects. */
function streamsOf(config: AppConfig) {
  return {
    NATS_STREAM: config.NATS_STREAM,
    NATS_SUBJECT: config.NATS_SUBJECT,
    NATS_CONSUMER: config.NATS_CONSUMER,
    NATS_DLQ_STREAM: config.NATS_DLQ_STREAM,
    NATS_DLQ_SUBJECT: config.NATS_DLQ_SUBJECT,
    NATS_CONTROL_SUBJECT: config.NATS_CONTROL_SUBJECT,
  };
}

export async function boot(config: AppConfig): Promise<Running> {
  // In-process apps must not install process-wide exit handlers in the jest worker.
  return bootstrap(config, { exitOnFatalErrors: false });
}

/** Removes a suite's streams (and with them its consumer). */
export async function dropTopology(config: AppConfig | undefined): Promise<void> {
  if (!config) return; // the suite's setup failed before it had one
  const nc = await connect({ servers: config.NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    for (const s of [config.NATS_STREAM, config.NATS_DLQ_STREAM]) await jsm.streams.delete(s).catch(() => false);
  } finally {
    await nc.close();
  }
}

export function kube() {
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG!);
  return { kc, apps: kc.makeApiClient(AppsV1Api), core: kc.makeApiClient(CoreV1Api) };
}

export async function deleteNamespace(name: string): Promise<void> {
  await kube()
    .core.deleteNamespace({ name })
    .catch(() => undefined);
}

export function db(url = process.env.TEST_DATABASE_URL!) {
  return new pg.Pool({ connectionString: url, max: 2 });
}

/** Polls until fn returns a truthy value, or fails with the last value seen. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The admin key every suite authenticates with (global setup sets ADMIN_API_KEY), as a header. */
export const adminAuth = (): Record<string, string> => ({ authorization: `Bearer ${process.env.ADMIN_API_KEY}` });

/**
 * A JSON call to the API, as the admin key unless `headers` names its own `authorization`
 * (an empty one sends no Authorization header at all).
 */
export async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const auth = Object.keys(headers).some((h) => h.toLowerCase() === 'authorization') ? {} : adminAuth();
  const sent = Object.fromEntries(
    Object.entries({ 'content-type': 'application/json', ...auth, ...headers }).filter(([, v]) => v !== ''),
  );
  const res = await fetch(`${base}${path}`, {
    method,
    headers: sent,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json, headers: res.headers };
}

/** Polls GET /v1/requests/{id} until the request is SUCCESS or FAILURE, and returns the record. */
export async function settled(apiUrl: string, requestId: string, timeoutMs = 60_000): Promise<any> {
  return eventually(async () => {
    const r = await http(apiUrl, 'GET', `/v1/requests/${encodeURIComponent(requestId)}`);
    return r.status === 200 && ['SUCCESS', 'FAILURE'].includes(r.body.status) ? r.body : undefined;
  }, timeoutMs);
}

/** The environment for a child `node dist/src/main.js` that joins a suite's database, namespaces and streams. */
export function appEnv(config: AppConfig, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HEALTH_PORT: '0',
    LOG_LEVEL: 'warn',
    DATABASE_URL: config.DATABASE_URL,
    MANAGED_NAMESPACES: config.MANAGED_NAMESPACES.join(','),
    ...streamsOf(config),
    ...extra,
  };
}

/**
 * The ways rows of one deployment's requests, in acceptance (seq) order, break "applied one
 * at a time, in that order": a request that completed no later than the one before it, or
 * started before the one before it had completed. Strict: timestamps that tie are a break,
 * never settled by seq. An empty list means the order held.
 */
export function acceptanceOrderBreaks(
  rows: { request_id: string; seq: number | string; started_at: Date; completed_at: Date }[],
): string[] {
  const bySeq = [...rows].sort((a, b) => Number(a.seq) - Number(b.seq));
  const breaks: string[] = [];
  for (let i = 1; i < bySeq.length; i++) {
    const [prev, cur] = [bySeq[i - 1], bySeq[i]];
    if (+cur.completed_at <= +prev.completed_at)
      breaks.push(`${cur.request_id} completed no later than ${prev.request_id}`);
    if (+cur.started_at < +prev.completed_at)
      breaks.push(`${cur.request_id} started before ${prev.request_id} completed`);
  }
  return breaks;
}

/** A TCP port free on 127.0.0.1 right now, for a process the test starts. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  return port;
}
