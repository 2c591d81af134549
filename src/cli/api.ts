import { createKdmClient, describeApiError, type KdmClient } from '../../clients/typescript/src/index.js';
import { CliError } from './cli-error.js';

/** Where the API is and who we are: from --server/--token, else KDM_URL/KDM_TOKEN (commander reads them). */
export interface Connection {
  server: string;
  token?: string;
}

/** openapi-fetch's answer: data on success, error (the parsed body) otherwise. */
type Answer<T> = { data: T; error?: never; response: Response } | { data?: never; error: unknown; response: Response };

export class Api {
  readonly client: KdmClient;

  constructor(private readonly connection: Connection) {
    let url: URL;
    try {
      url = new URL(connection.server);
    } catch {
      throw new CliError(`--server/KDM_URL: "${connection.server}" is not a URL (e.g. http://127.0.0.1:3000)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new CliError(`--server/KDM_URL: "${connection.server}" is not an http(s) URL`);
    this.client = createKdmClient({ baseUrl: connection.server, token: connection.token || undefined });
  }

  /** The answer's data, or a CliError of one line naming the cause (`what` says which call it was). */
  async call<T>(what: string, pending: Promise<Answer<T>>): Promise<NonNullable<T>> {
    const answer = await this.send(pending);
    if (answer.error !== undefined)
      throw new CliError(`${what}: ${this.explain(answer.response.status, answer.error)}`);
    if (answer.data === undefined || answer.data === null)
      throw new CliError(`${what}: the API answered ${answer.response.status} without a body`);
    return answer.data;
  }

  /** The raw answer, network failures turned into one line. For calls whose error statuses mean something. */
  async send<T>(pending: Promise<Answer<T>>): Promise<Answer<T>> {
    try {
      return await pending;
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new CliError(`cannot reach the API at ${this.connection.server} (${why}); set --server or KDM_URL`);
    }
  }

  explain(status: number, body: unknown): string {
    const line = describeApiError(status, body);
    if (status !== 401) return line;
    return this.connection.token
      ? `${line} (the API key in --token/KDM_TOKEN was refused)`
      : `${line} (no API key: set KDM_TOKEN or --token)`;
  }
}
