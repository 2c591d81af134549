import type { Api } from './api.js';
import { CliError } from './cli-error.js';
import { type SseEvent, SseParser } from './sse-parser.js';

export interface EventsOptions {
  namespace?: string;
  name?: string;
  requestId?: string;
  types?: string[];
  /** Keep streaming (and reconnect with Last-Event-ID); else print what is kept and stop. */
  follow: boolean;
  /** One event (id, type, data parsed) at a time. */
  onEvent: (e: { id: number; type: string; data: Record<string, unknown> }) => void;
  /** Lines about the stream itself (reset, reconnects), for stderr. */
  notice: (line: string) => void;
  /** Ends a --follow stream (Ctrl-C, tests). */
  signal?: AbortSignal;
}

/**
 * GET /v1/events through the typed client, read as a stream. With follow, a stream that ends or
 * breaks is opened again after the server's `retry` delay with Last-Event-ID, so nothing is
 * missed or printed twice; without, the server sends the events kept and ends.
 */
export async function streamEvents(api: Api, o: EventsOptions): Promise<void> {
  let lastId: number | undefined = o.follow ? undefined : 0;
  let retryMs = 2000;
  let failures = 0;
  while (!o.signal?.aborted) {
    const query = {
      namespace: o.namespace,
      name: o.name,
      requestId: o.requestId,
      types: o.types?.join(','),
      follow: o.follow ? undefined : false,
    };
    let answer;
    try {
      answer = await api.client.GET('/v1/events', {
        params: { query, header: lastId !== undefined ? { 'Last-Event-ID': String(lastId) } : {} },
        parseAs: 'stream',
        signal: o.signal,
      });
    } catch (e) {
      if (o.signal?.aborted) return;
      if (!o.follow || ++failures > 30) throw apiUnreachable(api, e);
      o.notice(`event stream: cannot reach the API (${(e as Error).message}); retrying`);
      await sleep(retryMs, o.signal);
      continue;
    }
    if (answer.error !== undefined || !answer.response.body)
      throw new CliError(`events: ${api.explain(answer.response.status, answer.error)}`);
    failures = 0;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const handle = (e: SseEvent) => {
      if (e.event === 'reset') {
        o.notice(`event stream reset: ${describe(e.data)}`);
        return;
      }
      if (e.event === 'error') {
        o.notice(`event stream ended by the server: ${describe(e.data)}`);
        return;
      }
      if (e.id === undefined) return;
      lastId = Number(e.id);
      o.onEvent({ id: lastId, type: e.event, data: JSON.parse(e.data) as Record<string, unknown> });
    };
    try {
      for await (const chunk of answer.response.body as unknown as AsyncIterable<Uint8Array>)
        for (const e of parser.push(decoder.decode(chunk, { stream: true }))) handle(e);
    } catch (e) {
      if (o.signal?.aborted) return;
      if (!o.follow) throw new CliError(`events: the stream broke (${(e as Error).message})`);
    }
    retryMs = parser.retryMs ?? retryMs;
    if (!o.follow) return;
    lastId ??= 0;
    o.notice(`event stream closed; resuming after event ${lastId}`);
    await sleep(retryMs, o.signal);
  }
}

const describe = (data: string): string => {
  try {
    const d = JSON.parse(data) as { message?: string; code?: string; reason?: string };
    return [d.code ?? d.reason, d.message].filter(Boolean).join(': ');
  } catch {
    return data;
  }
};

function apiUnreachable(api: Api, e: unknown): CliError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return new CliError(`events: cannot reach the API (${cause?.code ?? cause?.message ?? (e as Error).message})`);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** One line per event for the table output: what changed, briefly. */
export function eventLine(e: { id: number; type: string; data: Record<string, unknown> }): string[] {
  const d = e.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const target = `${d.namespace}/${d.name}`;
  let what: string;
  switch (e.type) {
    case 'request.status':
      what = `request ${d.requestId} ${d.operation} ${d.status}${d.error ? ` (${d.error.code}: ${d.error.message})` : ''}`;
      break;
    case 'request.rollout': {
      const r = d.rollout ?? {};
      const replicas = r.replicas ? ` ready ${r.replicas.ready}/${r.replicas.desired}` : '';
      what = `request ${d.requestId} rollout ${r.state}${replicas}${r.reason ? ` (${r.reason})` : ''}`;
      break;
    }
    case 'deployment.changed':
      what = `rollout ${d.rollout} generation ${d.observedGeneration}/${d.generation} ready ${d.replicas?.ready}/${d.replicas?.desired}`;
      break;
    case 'deployment.deleted':
      what = 'deleted';
      break;
    case 'deployment.drift':
      what = d.drifted
        ? `drifted: ${((d.drift?.fields ?? []) as { field: string }[]).map((f) => f.field).join(', ')}`
        : 'no drift';
      break;
    default:
      what = '';
  }
  return [String(e.id), String(d.at ?? ''), e.type, target, what];
}
