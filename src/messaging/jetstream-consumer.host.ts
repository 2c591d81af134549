import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import { AppConfig } from '../config/app-config.js';
import { withRequestId } from '../common/logging.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { NatsClient } from './nats-client.js';
import {
  JETSTREAM_HANDLER,
  type HandlerResult,
  type JetStreamHandlerFn,
  type MessageContext,
} from './jetstream-handler.decorator.js';
import { outcomeFor, Outcome } from './jetstream-outcome.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { sanitizeReason } from '../domain/reason-text.js';

export const REQUEST_ID_HEADER = 'Dm-Request-Id';
const FETCH_EXPIRES_MS = 2_000;
const DLQ_REASON_MAX_CHARS = 1000;
const TERM_REASON_MAX_CHARS = 200;

/**
 * Pulls from the durable request consumer with WORKER_CONCURRENCY loops and hands each
 * message to the one @JetStreamHandler() method found among the providers. All
 * acknowledgement logic lives here: handlers never see ack, nak, working or term.
 */
@Injectable()
export class JetStreamConsumerHost implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JetStreamConsumerHost.name);
  private handler?: JetStreamHandlerFn;
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly config: AppConfig,
    private readonly nats: NatsClient,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap() {
    this.handler = this.discoverHandler();
    for (let i = 0; i < this.config.WORKER_CONCURRENCY; i++) this.loops.push(this.loop(i));
    this.logger.log(
      `consuming ${this.config.NATS_STREAM}/${this.config.NATS_CONSUMER} with ${this.loops.length} loops`,
    );
  }

  async onApplicationShutdown() {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private discoverHandler(): JetStreamHandlerFn {
    const found: JetStreamHandlerFn[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const method = instance[name] as JetStreamHandlerFn;
        if (this.reflector.get(JETSTREAM_HANDLER, method)) found.push(method.bind(instance));
      }
    }
    if (found.length !== 1) throw new Error(`expected exactly one @JetStreamHandler(), found ${found.length}`);
    return found[0];
  }

  private async loop(index: number) {
    let idleDelay = 250;
    while (!this.stopped) {
      try {
        const consumer = await this.nats.jetstream().consumers.get(this.config.NATS_STREAM, this.config.NATS_CONSUMER);
        idleDelay = 250;
        while (!this.stopped) {
          const msg = await consumer.next({ expires: FETCH_EXPIRES_MS });
          if (!msg) continue;
          if (this.stopped) {
            msg.nak(); // shutting down: hand it straight to another worker
            break;
          }
          await this.dispatch(msg);
        }
      } catch (e) {
        if (this.stopped) break;
        this.logger.debug(`consumer loop ${index}: ${(e as Error).message}; retrying`);
        await sleep(idleDelay);
        idleDelay = Math.min(idleDelay * 2, 5_000);
      }
    }
  }

  private async dispatch(msg: JsMsg) {
    const requestId = msg.headers?.get(REQUEST_ID_HEADER) || undefined;
    const ctx: MessageContext = { requestId };
    // Keeps the message ours while a slow Kubernetes call is in flight.
    const heartbeat = startHeartbeat(msg, Math.max(1000, this.config.JS_ACK_WAIT_MS / 3), (e) =>
      this.logger.warn(`heartbeat for ${requestId ?? msg.seq} stopped: ${(e as Error).message}`),
    );
    let error: unknown;
    let result: HandlerResult = undefined;
    const run = async () => {
      try {
        result = await this.handler!(decode(msg), ctx);
      } catch (e) {
        error = e;
      }
    };
    try {
      await (requestId ? withRequestId(requestId, run) : run());
    } finally {
      heartbeat.stop();
    }
    const outcome = outcomeFor(
      error,
      { deliveryCount: msg.info.deliveryCount, maxDeliver: this.config.JS_MAX_DELIVER },
      { baseMs: this.config.JS_BACKOFF_BASE_MS, maxMs: this.config.JS_BACKOFF_MAX_MS },
      result,
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
    h.set('Dm-Dead-Letter-Reason', reason);
    h.set('Dm-Original-Stream-Seq', String(msg.seq));
    h.set('Dm-Delivery-Count', String(msg.info.deliveryCount));
    await this.nats.jetstream().publish(this.config.NATS_DLQ_SUBJECT, msg.data, {
      headers: h,
      msgID: `dlq-${msg.info.stream}-${msg.seq}`,
    });
  }
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
