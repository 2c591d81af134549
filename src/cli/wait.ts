import { FINAL_STATUSES, type RequestRecord } from '../../clients/typescript/src/index.js';
import type { Api } from './api.js';
import { CliError } from './cli-error.js';

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  /** Called with one line each time the request's status or attempt count changes. */
  progress: (line: string) => void;
}

/** Polls the request until it is SUCCESS or FAILURE; undefined when timeoutMs passes first. */
export async function waitForRequest(api: Api, requestId: string, o: WaitOptions): Promise<RequestRecord | undefined> {
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  let last = '';
  for (;;) {
    const answer = await api.send(api.client.GET('/v1/requests/{requestId}', { params: { path: { requestId } } }));
    const status = answer.response.status;
    let seen: string;
    if (answer.data !== undefined) {
      const r = answer.data;
      seen = `${r.status}${r.attempts > 0 ? ` (attempt ${r.attempts}${r.error ? `, last error ${r.error.code}: ${r.error.message}` : ''})` : ''}`;
      if (FINAL_STATUSES.includes(r.status)) {
        o.progress(`request ${requestId}: ${r.status} [${Math.round((Date.now() - started) / 1000)}s]`);
        return r;
      }
    } else if (status === 400 || status === 401 || status === 403 || status === 404) {
      throw new CliError(`request ${requestId}: ${api.explain(status, answer.error)}`);
    } else {
      seen = `API answered ${api.explain(status, answer.error)}; still waiting`; // 5xx, 429: passing
    }
    if (seen !== last) o.progress(`request ${requestId}: ${seen} [${Math.round((Date.now() - started) / 1000)}s]`);
    last = seen;
    if (Date.now() + o.intervalMs > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, o.intervalMs));
  }
}

/** The rollout receipt as the CLI reads it (the record's `rollout`). */
interface Receipt {
  state: string;
  replicas?: { desired: number; updated: number; ready: number; available: number } | null;
  reason?: string | null;
  message?: string | null;
}

/** Receipt states that end `kdm wait --rollout`. */
export const FINAL_ROLLOUT_STATES = ['COMPLETE', 'FAILED', 'SUPERSEDED', 'GONE'];

/**
 * Long-polls the request (`?wait=rollout`, at most 60 s a call) until its rollout receipt is
 * final or it ended FAILURE (which has no receipt); undefined when timeoutMs passes first.
 * The server answers as soon as something changes, so no interval is needed.
 */
export async function waitForRollout(
  api: Api,
  requestId: string,
  o: Omit<WaitOptions, 'intervalMs'>,
): Promise<RequestRecord | undefined> {
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  let last = '';
  for (;;) {
    const seconds = Math.max(1, Math.min(60, Math.floor((deadline - Date.now()) / 1000)));
    const answer = await api.send(
      api.client.GET('/v1/requests/{requestId}', {
        params: { path: { requestId }, query: { wait: 'rollout', timeout: seconds } },
      }),
    );
    const status = answer.response.status;
    let seen: string;
    if (answer.data !== undefined) {
      const r = answer.data;
      const rollout = (r as { rollout?: Receipt | null }).rollout;
      // A SUCCESS without a receipt is from before receipts: none will come (the server's rule too).
      const final =
        r.status === 'FAILURE' || (rollout ? FINAL_ROLLOUT_STATES.includes(rollout.state) : r.status === 'SUCCESS');
      seen = rollout
        ? `${r.status}, rollout ${rollout.state}${rollout.replicas ? ` (ready ${rollout.replicas.ready}/${rollout.replicas.desired})` : ''}`
        : r.status;
      if (final) {
        o.progress(`request ${requestId}: ${seen} [${Math.round((Date.now() - started) / 1000)}s]`);
        return r;
      }
    } else if (status === 400 || status === 401 || status === 403 || status === 404) {
      throw new CliError(`request ${requestId}: ${api.explain(status, answer.error)}`);
    } else {
      seen = `API answered ${api.explain(status, answer.error)}; still waiting`;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (seen !== last) o.progress(`request ${requestId}: ${seen} [${Math.round((Date.now() - started) / 1000)}s]`);
    last = seen;
    if (Date.now() >= deadline) return undefined;
  }
}

/** kdm wait --rollout's exit code for a finished wait: 0 COMPLETE or GONE, 1 FAILURE or FAILED, 3 SUPERSEDED. */
export function rolloutExitCode(r: RequestRecord): { code: number; line?: string } {
  const rollout = (r as { rollout?: Receipt | null }).rollout;
  if (r.status === 'FAILURE')
    return {
      code: 1,
      line: `request ${r.requestId} ended FAILURE: ${r.error ? `${r.error.code}: ${r.error.message}` : 'no reason given'}`,
    };
  if (rollout?.state === 'FAILED')
    return {
      code: 1,
      line: `request ${r.requestId}: rollout FAILED${rollout.reason ? `: ${rollout.reason}` : ''}${rollout.message ? ` (${rollout.message})` : ''}`,
    };
  if (rollout?.state === 'SUPERSEDED')
    return { code: 3, line: `request ${r.requestId}: rollout SUPERSEDED by a newer change before it completed` };
  return { code: 0 };
}
