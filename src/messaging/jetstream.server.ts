import { Inject, Injectable, Logger } from '@nestjs/common';
import { BaseRpcContext, Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import { isObservable, lastValueFrom } from 'rxjs';
import { AppConfig } from '../config/app-config.js';
import { withLogContext } from '../common/logging.js';
import { settlesWithin, ShutdownSignal } from '../common/shutdown.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { sanitizeReason } from '../domain/reason-text.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { NatsClient } from './nats-client.js';
import { asRetryLater, outcomeFor, type Outcome } from './jetstream-outcome.js';
import { toControlReply, type ControlReply } from './control-reply.js';
import {
  CONSUMER_BINDINGS,
  controlSubject,
  CORRELATION_ID_HEADER,
  DEAD_LETTER_DELIVERIES_HEADER,
  DEAD_LETTER_REASON_HEADER,
  DEAD_LETTER_SEQ_HEADER,
  REQUEST_ID_HEADER,
  type ConsumerBinding,
  type ConsumerBindings,
} from './jetstream-topology.js';

export const JETSTREAM_TRANSPORT = Symbol('JetStream');
const FETCH_EXPIRES_MS = 2_000;
const DLQ_REASON_MAX_CHARS = 1000;
const TERM_REASON_MAX_CHARS = 200;

/** What a handler may learn about its message: the subject and the request id. Never ack, nak or delivery counts. */
export class JetStreamContext extends BaseRpcContext<[subject: string, requestId: string | undefined]> {
  getSubject(): string {
    return this.args[0];
  }

  getRequestId(): string | undefined {
    return this.args[1];
  }
}

/**
 * JetStream as a Nest transport. Each `@EventPattern(p)` handler is served by
 * WORKER_CONCURRENCY loops pulling from the durable consumer that CONSUMER_BINDINGS names
 * for p; each `@MessagePattern(p)` handler answers core-NATS requests on
 * controlSubject(config, p), one member of the queue group p per request. All
 * acknowledgement logic lives here: a handler returns (done), returns a RetryLater (still
 * open) or throws a DomainError, and jetstream-outcome.ts decides ack, nak or dead letter.
 */
@Injectable()
export class JetStreamServer extends Server implements CustomTransportStrategy {
  override transportId = JETSTREAM_TRANSPORT;
  protected override readonly logger = new Logger(JetStreamServer.name);
  private stopped = false;
  private closing?: Promise<void>;
  private readonly loops: Promise<void>[] = [];
  private readonly services: (() => void)[] = [];
  /** Messages a handler is working on; one handed back at shutdown is removed, so it is settled once. */
  private readonly inHand = new Set<JsMsg>();

  constructor(
    private readonly config: AppConfig,
    private readonly nats: NatsClient,
    private readonly metrics: MetricsService,
    @Inject(CONSUMER_BINDINGS) private readonly bindings: ConsumerBindings,
    private readonly shutdown: ShutdownSignal,
  ) {
    super();
  }

  /** Starts consuming; never waits for NATS (the loops and services connect when it is there). */
  listen(callback: (err?: unknown) => void) {
    try {
      for (const [pattern, handler] of this.messageHandlers) {
        if (handler.next) throw new Error(`more than one handler for "${pattern}": a message has one outcome`);
        if (handler.isEventHandler) this.consume(pattern, handler);
        else this.serve(pattern, handler);
      }
    } catch (e) {
      callback(e);
      return;
    }
    callback();
  }

  /**
   * Stops pulling and answering, and waits for the messages in hand until the shutdown's
   * work deadline; those still in hand then are naked (another worker takes them at once,
   * once this process's lock sessions end). Nest may call it twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.shutdown.begin();
      this.stopped = true;
      for (const stop of this.services) stop();
      if (await settlesWithin(Promise.all(this.loops), this.shutdown.remainingWorkMs())) return;
      const held = [...this.inHand];
      this.inHand.clear();
      for (const msg of held) {
        try {
          msg.nak();
        } catch {
          // the connection is gone: the message comes back after its ack wait
        }
      }
      // Sent now, before anything else closes: another worker can take them at once.
      await this.nats.connection?.flush().catch(() => undefined);
      this.logger.warn(`shutdown deadline: handed back ${held.length} message(s) still in hand`);
    })();
    return this.closing;
  }

  on(): never {
    throw new Error('JetStreamServer emits no events: NatsClient owns the connection and its status');
  }

  unwrap<T>(): T {
    const nc: NatsConnection | undefined = this.nats.connection;
    if (!nc) throw new Error('NATS is not connected');
    return nc as T;
  }

  private consume(pattern: string, handler: MessageHandler) {
    const binding = this.bindings.get(pattern);
    if (!binding) {
      throw new Error(
        `@EventPattern("${pattern}") names no JetStream consumer; known: ${[...this.bindings.keys()].join(', ')}`,
      );
    }
    for (let i = 0; i < this.config.WORKER_CONCURRENCY; i++) this.loops.push(this.loop(binding, handler, i));
    this.logger.log(
      `consuming ${binding.stream}/${binding.consumer} for "${pattern}" with ${this.config.WORKER_CONCURRENCY} loops`,
    );
  }

  private serve(pattern: string, handler: MessageHandler) {
    const subject = controlSubject(this.config, pattern);
    this.services.push(this.nats.serve(subject, pattern, (data) => this.answer(handler, subject, data)));
    this.logger.log(`answering requests on ${subject}`);
  }

  private async answer(handler: MessageHandler, subject: string, data: unknown): Promise<ControlReply> {
    try {
      return toControlReply({ result: await invoke(handler, data, new JetStreamContext([subject, undefined])) });
    } catch (e) {
      return toControlReply({ error: e });
    }
  }

  private async loop(binding: ConsumerBinding, handler: MessageHandler, index: number) {
    let idleDelay = 250;
    while (!this.stopped) {
      try {
        const consumer = await this.nats.jetstream().consumers.get(binding.stream, binding.consumer);
        idleDelay = 250;
        while (!this.stopped) {
          const msg = await consumer.next({ expires: FETCH_EXPIRES_MS });
          if (!msg) continue;
          if (this.stopped) {
            msg.nak(); // shutting down: hand it straight to another worker
            break;
          }
          await this.dispatch(handler, msg);
        }
      } catch (e) {
        if (this.stopped) break;
        this.logger.debug(`${binding.consumer} loop ${index}: ${(e as Error).message}; retrying`);
        await sleep(idleDelay);
        idleDelay = Math.min(idleDelay * 2, 5_000);
      }
    }
  }

  /** Every line logged about the message, handling and settling it, names the request and the API call that made it. */
  private dispatch(handler: MessageHandler, msg: JsMsg): Promise<void> {
    const requestId = msg.headers?.get(REQUEST_ID_HEADER) || undefined;
    const correlationId = msg.headers?.get(CORRELATION_ID_HEADER) || undefined;
    return withLogContext({ requestId, correlationId }, () => this.handle(handler, msg, requestId));
  }

  private async handle(handler: MessageHandler, msg: JsMsg, requestId: string | undefined) {
    const ctx = new JetStreamContext([msg.subject, requestId]);
    // Keeps the message ours while a slow Kubernetes call is in flight.
    const heartbeat = startHeartbeat(msg, Math.max(1000, this.config.JS_ACK_WAIT_MS / 3), (e) =>
      this.logger.warn(`heartbeat for ${requestId ?? msg.seq} stopped: ${(e as Error).message}`),
    );
    this.inHand.add(msg);
    let error: unknown;
    let result: unknown;
    try {
      result = await invoke(handler, decode(msg), ctx);
    } catch (e) {
      error = e;
    } finally {
      heartbeat.stop();
    }
    // Handed back at the shutdown deadline: another worker owns its outcome now.
    if (!this.inHand.delete(msg)) return;
    const outcome = outcomeFor(
      error,
      { deliveryCount: msg.info.deliveryCount, maxDeliver: this.config.JS_MAX_DELIVER },
      { baseMs: this.config.JS_BACKOFF_BASE_MS, maxMs: this.config.JS_BACKOFF_MAX_MS },
      asRetryLater(result),
    );
    this.metrics.messagesHandled.inc({ outcome: outcome.kind });
    await this.settle(msg, outcome, requestId);
  }

  private async settle(msg: JsMsg, outcome: Outcome, requestId?: string) {
    switch (outcome.kind) {
      case 'ack':
        msg.ack();
        return;
      case 'nak':
        if (outcome.expected) this.logger.debug(`${requestId ?? msg.seq} waits; back in ${outcome.delayMs} ms`);
        else
          this.logger.warn(
            `delivery ${msg.info.deliveryCount} of ${requestId ?? msg.seq} failed; retry in ${outcome.delayMs} ms`,
          );
        msg.nak(outcome.delayMs);
        return;
      case 'deadLetter': {
        // A reason may hold anything a server answered (a proxy's HTML page): one line, bounded.
        const reason = sanitizeReason(outcome.reason, DLQ_REASON_MAX_CHARS);
        try {
          await this.copyToDeadLetters(msg, reason);
          msg.term(sanitizeReason(reason, TERM_REASON_MAX_CHARS));
          this.logger.warn(`dead-lettered ${requestId ?? msg.seq}: ${reason}`);
        } catch (e) {
          // Leave it to redelivery (or to the reconciler once deliveries run out).
          this.logger.error(`could not dead-letter ${requestId ?? msg.seq}: ${(e as Error).message}`);
          msg.nak(this.config.JS_BACKOFF_BASE_MS);
        }
        return;
      }
    }
  }

  private async copyToDeadLetters(msg: JsMsg, reason: string) {
    const h = natsHeaders();
    for (const [k, v] of msg.headers ?? []) if (!k.startsWith('Nats-')) for (const x of v) h.append(k, x);
    h.set(DEAD_LETTER_REASON_HEADER, reason);
    h.set(DEAD_LETTER_SEQ_HEADER, String(msg.seq));
    h.set(DEAD_LETTER_DELIVERIES_HEADER, String(msg.info.deliveryCount));
    await this.nats.jetstream().publish(this.config.NATS_DLQ_SUBJECT, msg.data, {
      headers: h,
      msgID: `dlq-${msg.info.stream}-${msg.seq}`,
    });
  }
}

/** Runs a handler as Nest wrapped it (pipes, interceptors, HandlerErrorFilter) and returns its one value. */
async function invoke(handler: MessageHandler, data: unknown, ctx: JetStreamContext): Promise<unknown> {
  const out: unknown = await handler(data, ctx);
  return isObservable(out) ? lastValueFrom(out, { defaultValue: undefined }) : out;
}

/**
 * Calls msg.working() every intervalMs. It throws once the connection has closed, and an
 * exception thrown inside a timer would kill the process: stop beating instead. The
 * message then simply times out and is redelivered.
 */
export function startHeartbeat(
  msg: Pick<JsMsg, 'working'>,
  intervalMs: number,
  onLost: (e: unknown) => void,
): { stop(): void } {
  const timer = setInterval(() => {
    try {
      msg.working();
    } catch (e) {
      clearInterval(timer);
      onLost(e);
    }
  }, intervalMs);
  return { stop: () => clearInterval(timer) };
}

function decode(msg: JsMsg): unknown {
  try {
    return msg.json();
  } catch {
    throw new DomainError(ErrorCode.ValidationFailed, 'message body is not JSON');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
