import { Injectable, Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { AppConfig } from '../config/app-config.js';
import { ShutdownSignal } from '../common/shutdown.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { Principal } from '../domain/principal.js';
import { EventHub, type EventSubscriber } from './event-hub.js';
import { type EventFilter, matchesFilter, type StoredEvent } from './event.js';
import { EventsRepository } from './events.repository.js';
import { commentFrame, controlFrame, eventFrame } from './sse.js';

/** Rows per catch-up read. */
const CATCH_UP_PAGE = 500;
/** How long a client cut off for not reading gets to take its final `error` event before the socket is closed. */
const SLOW_CLIENT_GRACE_MS = 10_000;
/** How soon EventSource clients reconnect after the stream ends (the SSE `retry` field). */
const RECONNECT_MS = 2_000;

export interface StreamRequest {
  principal: Principal;
  filter: EventFilter;
  /** Where to resume: Last-Event-ID (0: from the oldest event kept); undefined: from now. */
  resumeAfter?: number;
  /** false: send the events kept so far and end. */
  follow: boolean;
}

/**
 * GET /v1/events: one Server-Sent Events stream per client. A stream first catches up from the
 * table (up to the hub's horizon, paced by the socket), then takes the hub's live events, so it
 * sends every matching event once, in id order, whatever replica it resumes on.
 */
@Injectable()
export class EventStreamsService {
  private readonly logger = new Logger(EventStreamsService.name);
  private readonly perKey = new Map<string, number>();
  private readonly streams = new Set<() => void>();

  constructor(
    private readonly config: AppConfig,
    private readonly hub: EventHub,
    private readonly repo: EventsRepository,
    private readonly shutdown: ShutdownSignal,
  ) {
    // Streams never end on their own: shutdown ends them, so draining the listener is not held up.
    shutdown.signal.addEventListener('abort', () => {
      for (const end of [...this.streams]) end();
    });
  }

  /** Streams open on this process (tests, metrics). */
  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * Refuses over the per-key limit (429, before anything is sent), then streams until the client
   * leaves, is too slow, or the process shuts down.
   */
  async stream(reply: FastifyReply, s: StreamRequest): Promise<void> {
    const key = s.principal.keyId;
    const held = this.perKey.get(key) ?? 0;
    if (held >= this.config.EVENT_STREAMS_PER_KEY) {
      reply.header('Retry-After', String(Math.ceil(RECONNECT_MS / 1000)));
      throw new DomainError(
        ErrorCode.TooManyEventStreams,
        `this API key already holds ${held} event streams on this API process (EVENT_STREAMS_PER_KEY=${this.config.EVENT_STREAMS_PER_KEY}); close one first`,
        { limit: this.config.EVENT_STREAMS_PER_KEY },
      );
    }
    this.perKey.set(key, held + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.perKey.get(key) ?? 1) - 1;
      if (n > 0) this.perKey.set(key, n);
      else this.perKey.delete(key);
    };
    try {
      await this.hub.ready();
      const start = await this.startingPoint(s);
      // From here the stream is ours, on the raw response: Fastify sends nothing more, and an
      // error can only end the stream (run's catch), never answer a second time.
      reply.hijack();
      this.run(reply.raw, s, start);
    } catch (e) {
      release();
      throw e;
    }
    reply.raw.once('close', release);
  }

  /** Where the stream starts, and the reset to send first when the resume point is gone. */
  private async startingPoint(s: StreamRequest): Promise<{ after: number; reset?: Record<string, unknown> }> {
    if (s.resumeAfter === undefined) return { after: s.follow ? this.hub.horizon : 0 };
    if (s.resumeAfter === 0) return { after: 0 };
    const purged = await this.repo.purgedThrough();
    if (s.resumeAfter < purged)
      return {
        after: purged,
        reset: {
          reason: 'expired',
          message: `events after ${s.resumeAfter} are older than the retention (EVENT_RETENTION_HOURS) and some are gone; reload the state, then follow from here`,
          lastEventId: s.resumeAfter,
          resumedAfter: purged,
        },
      };
    const { lastId } = await this.repo.head();
    if (s.resumeAfter > lastId)
      return {
        after: this.hub.horizon,
        reset: {
          reason: 'unknown',
          message: `event ${s.resumeAfter} was never written here; reload the state, then follow from here`,
          lastEventId: s.resumeAfter,
          resumedAfter: this.hub.horizon,
        },
      };
    return { after: s.resumeAfter };
  }

  private run(res: ServerResponse, s: StreamRequest, start: { after: number; reset?: Record<string, unknown> }) {
    const limit = this.config.EVENT_STREAM_BUFFER_BYTES;
    let ended = false;
    let unsubscribe: () => unknown = () => undefined;

    const end = (final?: string) => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unsubscribe();
      this.streams.delete(end);
      if (final) res.write(final);
      res.end();
      // A client that does not read never lets end() finish: close its socket after a grace.
      const cut = setTimeout(() => res.destroy(), SLOW_CLIENT_GRACE_MS);
      cut.unref();
      res.once('close', () => clearTimeout(cut));
    };
    const write = (frame: string) => {
      if (ended) return;
      res.write(frame);
      if (res.writableLength > limit)
        end(
          controlFrame('error', {
            code: 'SlowClient',
            message: `more than ${limit} bytes (EVENT_STREAM_BUFFER_BYTES) were waiting for this client; reconnect with Last-Event-ID`,
          }),
        );
    };
    const send = (e: StoredEvent) => {
      if (matchesFilter(e, s.filter)) write(eventFrame(e));
    };

    // Declared before any write can end the stream (end clears it).
    const heartbeat = setInterval(() => write(commentFrame('heartbeat')), this.config.EVENT_HEARTBEAT_MS);
    heartbeat.unref();
    this.streams.add(end);
    // The response's close, not the request's: a GET's request side closes once it has been read.
    res.once('close', () => end());
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(`retry: ${RECONNECT_MS}\n${commentFrame('connected')}`);
    if (start.reset) write(controlFrame('reset', start.reset));

    void (async () => {
      let after = start.after;
      // Catch up from the table, paced by the socket: the table, not memory, is the buffer here.
      while (!ended) {
        const horizon = this.hub.horizon;
        if (after >= horizon) break;
        const page = await this.repo.readRange(after, horizon, s.filter, CATCH_UP_PAGE);
        for (const e of page) write(eventFrame(e));
        after = page.length === CATCH_UP_PAGE ? page[page.length - 1].id : horizon;
        if (res.writableLength > limit / 2 && !ended)
          await new Promise<void>((resolve) => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.once('drain', done);
            res.once('close', done);
          });
      }
      if (ended) return;
      if (!s.follow || this.shutdown.requested) return end();
      // No await since the horizon check: the hub delivers exactly what comes after `after`.
      const subscriber: EventSubscriber = { after, deliver: send };
      unsubscribe = this.hub.subscribe(subscriber);
      write(commentFrame(`live after ${after}`));
    })().catch((e: unknown) => {
      this.logger.warn(`event stream failed: ${(e as Error).message}`);
      end(
        controlFrame('error', {
          code: 'Unavailable',
          message: 'reading the event log failed; reconnect with Last-Event-ID',
        }),
      );
    });
  }
}
