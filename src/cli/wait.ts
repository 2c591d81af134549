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
