import { SetMetadata } from '@nestjs/common';

export const JETSTREAM_HANDLER = Symbol('jetstream-handler');

/** What a JetStream handler may know about the delivery; never the message or its delivery count. */
export interface MessageContext {
  requestId?: string;
}

/** A handler's answer when its work is still open: deliver the message again after about retryAfterMs. */
export interface RetryLater {
  retryAfterMs: number;
  /** Why, for logs and for the dead letter should the delivery cap be reached. */
  reason: string;
}

/** Nothing: the work is finished. */
export type HandlerResult = void | RetryLater;

export type JetStreamHandlerFn = (payload: unknown, ctx: MessageContext) => Promise<HandlerResult>;

/**
 * Marks a provider method as the handler of the request consumer. It returns nothing once
 * the work is finished, a RetryLater while it is still open, and throws a DomainError to
 * fail; jetstream-outcome.ts decides ack, nak or dead letter.
 */
export const JetStreamHandler = (): MethodDecorator => SetMetadata(JETSTREAM_HANDLER, true);
