import { SetMetadata } from '@nestjs/common';

export const JETSTREAM_HANDLER = Symbol('jetstream-handler');

/** What a JetStream handler may know about the delivery; never the message itself. */
export interface MessageContext {
  requestId?: string;
  deliveryCount: number;
  maxDeliver: number;
  /** True on the last delivery the consumer will make: a retryable failure now is final. */
  isLastAttempt: boolean;
}

export type JetStreamHandlerFn = (payload: unknown, ctx: MessageContext) => Promise<void>;

/**
 * Marks a provider method as the handler of the request consumer. It returns to succeed
 * and throws a DomainError to fail; jetstream-outcome.ts decides ack, nak or dead letter.
 */
export const JetStreamHandler = (): MethodDecorator => SetMetadata(JETSTREAM_HANDLER, true);
