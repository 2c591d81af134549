import http from 'node:http';
import { SseParser, type SseEvent } from '../../src/cli/sse-parser.js';
import { adminAuth } from './harness.js';

/** One open GET /v1/events as a test sees it: the events so far, the raw text, and whether it ended. */
export interface TestStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The error body when status is not 200. */
  body?: any;
  events: SseEvent[];
  raw: string;
  ended: boolean;
  /** Real events' ids, in the order received. */
  ids(): number[];
  /** Parsed data of the real events of one type. */
  data(type: string): any[];
  /** Stops reading from the socket (a slow client), and starts again. */
  pause(): void;
  resume(): void;
  close(): void;
  /** Resolves when the server ends the stream. */
  done: Promise<void>;
}

/**
 * Opens an event stream with node:http (not fetch), so a test can stop reading and be a slow
 * client. `headers` may replace the admin key's authorization and add Last-Event-ID.
 */
export function openEventStream(base: string, query = '', headers: Record<string, string> = {}): Promise<TestStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/v1/events${query}`, { headers: { ...adminAuth(), ...headers } }, (res) => {
      let endResolve!: () => void;
      const s: TestStream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events: [],
        raw: '',
        ended: false,
        ids: () => s.events.filter((e) => e.id !== undefined).map((e) => Number(e.id)),
        data: (type) => s.events.filter((e) => e.event === type).map((e) => JSON.parse(e.data)),
        pause: () => res.pause(),
        resume: () => res.resume(),
        close: () => req.destroy(),
        done: new Promise<void>((r) => (endResolve = r)),
      };
      const parser = new SseParser();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        s.raw += chunk;
        if (s.status === 200) s.events.push(...parser.push(chunk));
      });
      const finish = () => {
        if (s.ended) return;
        s.ended = true;
        if (s.status !== 200) s.body = JSON.parse(s.raw || 'null');
        endResolve();
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
      if (s.status !== 200) void s.done.then(() => resolve(s));
      else resolve(s);
    });
    req.on('error', reject);
  });
}
