import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { AppConfig } from '../config/app-config.js';

/** Carries the request id on every request message (publisher) and its dead-letter copy, for logs. */
export const REQUEST_ID_HEADER = 'Dm-Request-Id';
/** The correlation id (the API's X-Request-Id) of the request, when it has one: worker lines carry it. */
export const CORRELATION_ID_HEADER = 'Dm-Correlation-Id';
/** Set on a dead-letter copy: why, and where the original was (its stream sequence and deliveries). */
export const DEAD_LETTER_REASON_HEADER = 'Dm-Dead-Letter-Reason';
export const DEAD_LETTER_SEQ_HEADER = 'Dm-Original-Stream-Seq';
export const DEAD_LETTER_DELIVERIES_HEADER = 'Dm-Delivery-Count';

/** The pattern of the request consumer's handler: `@EventPattern(REQUEST_CONSUMER)`. */
export const REQUEST_CONSUMER = 'requests';

/** A durable pull consumer that the transport pulls from for one event pattern. */
export interface ConsumerBinding {
  stream: string;
  consumer: string;
}

/** Injection token of the pattern -> consumer map that the transport serves. */
export const CONSUMER_BINDINGS = Symbol('CONSUMER_BINDINGS');
export type ConsumerBindings = ReadonlyMap<string, ConsumerBinding>;

/** Which durable consumer each `@EventPattern` pulls from (names come from config: tests use their own). */
export function consumerBindings(config: AppConfig): ConsumerBindings {
  return new Map([[REQUEST_CONSUMER, { stream: config.NATS_STREAM, consumer: config.NATS_CONSUMER }]]);
}

/** The core-NATS subject a `@MessagePattern(pattern)` answers requests on. */
export const controlSubject = (config: AppConfig, pattern: string) => `${config.NATS_CONTROL_SUBJECT}.${pattern}`;

/**
 * Declares the request stream (work queue: a message is gone once acked), its durable
 * pull consumer, and the dead-letter stream (kept by limits, for people to inspect), each
 * with JS_REPLICAS replicas (3 on a JetStream cluster: any one node may be lost).
 * Idempotent: creates what is missing, updates what drifted from config.
 */
export async function ensureTopology(jsm: JetStreamManager, config: AppConfig): Promise<void> {
  await upsertStream(jsm, {
    name: config.NATS_STREAM,
    subjects: [config.NATS_SUBJECT],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(config.JS_DUPLICATE_WINDOW_MS),
    num_replicas: config.JS_REPLICAS,
  });
  await upsertStream(jsm, {
    name: config.NATS_DLQ_STREAM,
    subjects: [config.NATS_DLQ_SUBJECT],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(30 * 24 * 3600 * 1000),
    num_replicas: config.JS_REPLICAS,
  });
  const consumer = {
    durable_name: config.NATS_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: config.NATS_SUBJECT,
    ack_wait: nanos(config.JS_ACK_WAIT_MS),
    max_deliver: config.JS_MAX_DELIVER,
    max_ack_pending: config.JS_MAX_ACK_PENDING,
    // As many as the stream: an R1 consumer on an R3 stream would lose its state with its one node.
    num_replicas: config.JS_REPLICAS,
  };
  try {
    await jsm.consumers.info(config.NATS_STREAM, config.NATS_CONSUMER);
    await jsm.consumers.update(config.NATS_STREAM, config.NATS_CONSUMER, {
      ack_wait: consumer.ack_wait,
      max_deliver: consumer.max_deliver,
      max_ack_pending: consumer.max_ack_pending,
      num_replicas: consumer.num_replicas,
    });
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await jsm.consumers.add(config.NATS_STREAM, consumer);
  }
}

type StreamConfig = Parameters<JetStreamManager['streams']['add']>[0] & { name: string };

async function upsertStream(jsm: JetStreamManager, cfg: StreamConfig) {
  try {
    await jsm.streams.info(cfg.name);
    await jsm.streams.update(cfg.name, cfg);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await jsm.streams.add(cfg);
  }
}

function isNotFound(e: unknown): boolean {
  return e instanceof JetStreamApiError && e.status === 404;
}
