import { jest } from '@jest/globals';
import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import type { AppConfig } from '../config/app-config.js';
import { ShutdownSignal } from '../common/shutdown.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { HandlerErrorFilter } from './handler-error.filter.js';
import { JetStreamServer, startHeartbeat } from './jetstream.server.js';
import { DEAD_LETTER_REASON_HEADER, REQUEST_ID_HEADER, type ConsumerBindings } from './jetstream-topology.js';
import type { ControlHandler } from './nats-client.js';
import type { ControlReply } from './control-reply.js';

const config = {
  JS_ACK_WAIT_MS: 3_000,
  JS_MAX_DELIVER: 3,
  JS_BACKOFF_BASE_MS: 100,
  JS_BACKOFF_MAX_MS: 500,
  NATS_DLQ_SUBJECT: 'dlq',
  NATS_CONTROL_SUBJECT: 'ctl',
  WORKER_CONCURRENCY: 1,
} as AppConfig;

type StubMsg = ReturnType<typeof stubMsg>;

function stubMsg(body: unknown = { requestId: 'r1' }, working: () => void = () => undefined, deliveryCount = 3) {
  const h = natsHeaders();
  h.set(REQUEST_ID_HEADER, 'r1');
  return {
    subject: 's',
    headers: h,
    seq: 7,
    info: { deliveryCount, stream: 'S' },
    data: new TextEncoder().encode(JSON.stringify(body)),
    json: () => body,
    working: jest.fn(working),
    ack: jest.fn(),
    nak: jest.fn(),
    term: jest.fn(),
  };
}

/** A NATS client stub: per-consumer message queues, recorded dead-letter publishes and control services. */
function stubNats(queues: Record<string, StubMsg[]> = {}) {
  const published: { subject: string; headers: MsgHdrs }[] = [];
  const services = new Map<string, ControlHandler>();
  const nats = {
    connection: undefined,
    jetstream: () => ({
      consumers: {
        get: async (stream: string, consumer: string) => ({
          next: async () => {
            const msg = queues[`${stream}/${consumer}`]?.shift();
            if (!msg) await new Promise((r) => setTimeout(r, 5));
            return msg ?? null;
          },
        }),
      },
      publish: async (subject: string, _data: unknown, opts: { headers: MsgHdrs }) => {
        published.push({ subject, headers: opts.headers });
      },
    }),
    serve: (subject: string, _queue: string, handler: ControlHandler) => {
      services.set(subject, handler);
      return () => services.delete(subject);
    },
  };
  return { nats, published, services };
}

const metrics = { messagesHandled: { inc: () => undefined } };
const bindings: ConsumerBindings = new Map([
  ['a', { stream: 'S', consumer: 'A' }],
  ['b', { stream: 'S', consumer: 'B' }],
]);

function server(nats: ReturnType<typeof stubNats>['nats'], shutdown = new ShutdownSignal(30_000)) {
  return new JetStreamServer(config, nats as never, metrics as never, bindings, shutdown);
}

const settled = (msg: StubMsg) =>
  msg.ack.mock.calls.length + msg.nak.mock.calls.length + msg.term.mock.calls.length > 0;

async function until(done: () => boolean) {
  for (let i = 0; i < 400 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(done()).toBe(true);
}

/** One message through one handler, as a consumer loop hands it over. */
function dispatcher(handler: () => Promise<unknown>) {
  const { nats, published } = stubNats();
  const s = server(nats);
  const dispatch = (msg: StubMsg) =>
    (s as unknown as { dispatch(h: unknown, m: JsMsg): Promise<void> }).dispatch(handler, msg as unknown as JsMsg);
  return { dispatch, published };
}

describe('JetStreamServer', () => {
  afterEach(() => jest.useRealTimers());

  it('survives msg.working() throwing (connection closed) during a slow handler, and stops the heartbeat', async () => {
    jest.useFakeTimers();
    const msg = stubMsg(undefined, () => {
      throw new Error('closed connection');
    });
    const { dispatch } = dispatcher(() => new Promise((r) => setTimeout(r, 5_000)));
    const done = dispatch(msg);
    await jest.advanceTimersByTimeAsync(5_000);
    await done;
    expect(msg.working).toHaveBeenCalledTimes(1);
    expect(msg.ack).toHaveBeenCalledTimes(1);
  });

  it('dead-letters a reason holding CR/LF (an HTML 502 page) with a one-line header and term reason', async () => {
    const msg = stubMsg();
    const html = '<html>\r\n<body>\r\n<h1>502 Bad Gateway</h1>\r\n</body>\r\n</html>';
    const { dispatch, published } = dispatcher(async () => {
      throw new DomainError(ErrorCode.DeadLettered, `retries exhausted: KubernetesUnavailable: HTTP 502: ${html}`);
    });
    await dispatch(msg);
    expect(msg.nak).not.toHaveBeenCalled();
    expect(published).toHaveLength(1);
    const reason = published[0].headers.get(DEAD_LETTER_REASON_HEADER);
    expect(reason).toBe(
      'DeadLettered: retries exhausted: KubernetesUnavailable: HTTP 502: <html> <body> <h1>502 Bad Gateway</h1> </body> </html>',
    );
    expect(msg.term).toHaveBeenCalledWith(reason);
  });

  it("refuses to start an @EventPattern that names no consumer, and a consumer's second handler", () => {
    const s = server(stubNats().nats);
    s.addHandler('nope', async () => undefined, true);
    const callback = jest.fn();
    s.listen(callback);
    expect(String(callback.mock.calls[0][0])).toContain('@EventPattern("nope") names no JetStream consumer');

    const twice = server(stubNats().nats);
    twice.addHandler('a', async () => undefined, true);
    twice.addHandler('a', async () => undefined, true);
    const cb2 = jest.fn();
    twice.listen(cb2);
    expect(String(cb2.mock.calls[0][0])).toContain('more than one handler for "a"');
  });
});

// Handlers as a feature writes them: plain controllers, no transport code.
const seen: string[] = [];

@Controller()
class AHandler {
  @EventPattern('a')
  async handle(payload: { id: string }) {
    seen.push(`a:${payload.id}`);
    if (payload.id === 'transient') throw new DomainError(ErrorCode.KubernetesUnavailable, 'HTTP 503');
    if (payload.id === 'poison') throw new DomainError(ErrorCode.ValidationFailed, 'bad message');
    return undefined;
  }
}

@Controller()
class BHandler {
  @EventPattern('b')
  async handle(payload: { id: string }) {
    seen.push(`b:${payload.id}`);
    return { retryAfterMs: 250, reason: 'busy' };
  }

  @MessagePattern('ask')
  async ask(payload: { fail?: boolean }) {
    if (payload.fail) throw new DomainError(ErrorCode.DatabaseUnavailable, 'PostgreSQL is down');
    return { runId: 42 };
  }
}

describe('JetStreamServer in a Nest microservice', () => {
  it('dispatches each consumer to its @EventPattern handler and maps results to ack, nak and dead letter', async () => {
    const msgs = {
      done: stubMsg({ id: 'done' }, undefined, 1),
      transient: stubMsg({ id: 'transient' }, undefined, 1),
      poison: stubMsg({ id: 'poison' }, undefined, 1),
      open: stubMsg({ id: 'open' }, undefined, 1),
    };
    const { nats, published, services } = stubNats({
      'S/A': [msgs.done, msgs.transient, msgs.poison],
      'S/B': [msgs.open],
    });
    const strategy = server(nats);
    const moduleRef = await Test.createTestingModule({ controllers: [AHandler, BHandler] }).compile();
    const app = moduleRef.createNestMicroservice({ strategy });
    app.useGlobalFilters(new HandlerErrorFilter());
    await app.listen();
    try {
      await until(() => Object.values(msgs).every(settled));
      expect(seen.sort()).toEqual(['a:done', 'a:poison', 'a:transient', 'b:open']);
      expect(msgs.done.ack).toHaveBeenCalledTimes(1);
      // Retryable: nak with backoff (first delivery: base ±20%), never dead-lettered.
      expect(msgs.transient.nak).toHaveBeenCalledTimes(1);
      expect(msgs.transient.nak.mock.calls[0][0]).toBeGreaterThanOrEqual(80);
      expect(msgs.transient.term).not.toHaveBeenCalled();
      // Permanent: copied to the dead letters with its reason, then removed.
      expect(msgs.poison.term).toHaveBeenCalledTimes(1);
      expect(published.map((p) => p.headers.get(DEAD_LETTER_REASON_HEADER))).toEqual(['ValidationFailed: bad message']);
      // Still open: nak with the handler's own delay.
      expect(msgs.open.nak).toHaveBeenCalledWith(250);

      // @MessagePattern: answered on the control subject, results and DomainErrors mapped to replies.
      const ask = services.get('ctl.ask')!;
      expect(await ask({})).toEqual({ ok: true, result: { runId: 42 } } satisfies ControlReply);
      expect(await ask({ fail: true })).toEqual({
        ok: false,
        error: { code: ErrorCode.DatabaseUnavailable, message: 'PostgreSQL is down' },
      } satisfies ControlReply);
    } finally {
      await app.close();
    }
    expect(services.size).toBe(0);
  });

  it('naks a message that arrives while shutting down instead of handling it', async () => {
    const late = stubMsg({ id: 'late' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let polling!: () => void;
    const polled = new Promise<void>((r) => (polling = r));
    const { nats } = stubNats();
    // The consumer hands the message over only once close() has begun.
    nats.jetstream = () =>
      ({
        consumers: {
          get: async () => ({
            next: async () => {
              polling();
              await gate;
              return late;
            },
          }),
        },
      }) as never;
    const handler = jest.fn(async () => undefined);
    const strategy = server(nats);
    strategy.addHandler('a', handler, true);
    strategy.listen(() => undefined);
    await polled;
    const closed = strategy.close();
    release();
    await closed;
    expect(late.nak).toHaveBeenCalledTimes(1);
    expect(late.ack).not.toHaveBeenCalled();
    expect(handler).not.toHaveBeenCalled();
  });

  it('at the shutdown deadline hands back (naks) the message a handler still holds, and never settles it again', async () => {
    const held = stubMsg({ id: 'held' });
    const { nats } = stubNats({ 'S/A': [held] });
    let finish!: () => void;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const handler = jest.fn(async () => {
      started();
      await new Promise<void>((r) => (finish = r));
      return undefined;
    });
    // 1,000 ms budget: 750 ms of work time, then the reserve for closing connections.
    const shutdown = new ShutdownSignal(1_000);
    const strategy = server(nats, shutdown);
    strategy.addHandler('a', handler, true);
    strategy.listen(() => undefined);
    await running;
    await strategy.close();
    expect(shutdown.requested).toBe(true);
    expect(held.nak).toHaveBeenCalledTimes(1);
    // The handler ends after all: its outcome must not reach the message handed back.
    finish();
    await new Promise((r) => setTimeout(r, 20));
    expect(held.ack).not.toHaveBeenCalled();
    expect(held.nak).toHaveBeenCalledTimes(1);
  });
});

describe('startHeartbeat', () => {
  afterEach(() => jest.useRealTimers());

  it('beats until stopped', () => {
    jest.useFakeTimers();
    const working = jest.fn();
    const beat = startHeartbeat({ working }, 1_000, () => undefined);
    jest.advanceTimersByTime(3_000);
    beat.stop();
    jest.advanceTimersByTime(3_000);
    expect(working).toHaveBeenCalledTimes(3);
  });

  it('stops and reports once when working() throws, instead of throwing from the timer', () => {
    jest.useFakeTimers();
    const lost = jest.fn();
    const working = jest.fn(() => {
      throw new Error('closed connection');
    });
    startHeartbeat({ working }, 1_000, lost);
    expect(() => jest.advanceTimersByTime(5_000)).not.toThrow();
    expect(working).toHaveBeenCalledTimes(1);
    expect(lost).toHaveBeenCalledTimes(1);
  });
});
