import { jest } from '@jest/globals';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import type { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { JetStreamConsumerHost, REQUEST_ID_HEADER, startHeartbeat } from './jetstream-consumer.host.js';

const config = {
  JS_ACK_WAIT_MS: 3_000,
  JS_MAX_DELIVER: 3,
  JS_BACKOFF_BASE_MS: 100,
  JS_BACKOFF_MAX_MS: 500,
  NATS_DLQ_SUBJECT: 'dlq',
} as AppConfig;

function stubMsg(working: () => void = () => undefined) {
  const h = natsHeaders();
  h.set(REQUEST_ID_HEADER, 'r1');
  return {
    headers: h,
    seq: 7,
    info: { deliveryCount: 3, stream: 'S' },
    data: new TextEncoder().encode('{"requestId":"r1"}'),
    json: () => ({ requestId: 'r1' }),
    working: jest.fn(working),
    ack: jest.fn(),
    nak: jest.fn(),
    term: jest.fn(),
  };
}

function host(handler: () => Promise<void>) {
  const published: { subject: string; headers: MsgHdrs }[] = [];
  const nats = {
    jetstream: () => ({
      publish: async (subject: string, _data: unknown, opts: { headers: MsgHdrs }) => {
        published.push({ subject, headers: opts.headers });
      },
    }),
  };
  const metrics = { messagesHandled: { inc: () => undefined } };
  const h = new JetStreamConsumerHost(config, nats as never, {} as never, {} as never, {} as never, metrics as never);
  Object.assign(h, { handler });
  const dispatch = (msg: ReturnType<typeof stubMsg>) =>
    (h as unknown as { dispatch(m: JsMsg): Promise<void> }).dispatch(msg as unknown as JsMsg);
  return { dispatch, published };
}

describe('JetStreamConsumerHost', () => {
  afterEach(() => jest.useRealTimers());

  it('survives msg.working() throwing (connection closed) during a slow handler, and stops the heartbeat', async () => {
    jest.useFakeTimers();
    const msg = stubMsg(() => {
      throw new Error('closed connection');
    });
    const { dispatch } = host(() => new Promise((r) => setTimeout(r, 5_000)));
    const done = dispatch(msg);
    await jest.advanceTimersByTimeAsync(5_000);
    await done;
    expect(msg.working).toHaveBeenCalledTimes(1);
    expect(msg.ack).toHaveBeenCalledTimes(1);
  });

  it('dead-letters a reason holding CR/LF (an HTML 502 page) with a one-line header and term reason', async () => {
    const msg = stubMsg();
    const html = '<html>\r\n<body>\r\n<h1>502 Bad Gateway</h1>\r\n</body>\r\n</html>';
    const { dispatch, published } = host(async () => {
      throw new DomainError(ErrorCode.DeadLettered, `retries exhausted: KubernetesUnavailable: HTTP 502: ${html}`);
    });
    await dispatch(msg);
    expect(msg.nak).not.toHaveBeenCalled();
    expect(published).toHaveLength(1);
    const reason = published[0].headers.get('Dm-Dead-Letter-Reason');
    expect(reason).toBe(
      'DeadLettered: retries exhausted: KubernetesUnavailable: HTTP 502: <html> <body> <h1>502 Bad Gateway</h1> </body> </html>',
    );
    expect(msg.term).toHaveBeenCalledWith(reason);
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
