import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { NatsClient } from './nats-client.js';
import { RequestPublisher } from './request-publisher.js';
import { JetStreamConsumerHost } from './jetstream-consumer.host.js';

/** The one NATS connection and the request publisher; shared by every role that talks to NATS. */
@Module({
  providers: [NatsClient, RequestPublisher],
  exports: [NatsClient, RequestPublisher],
})
export class MessagingModule {}

/** Adds the JetStream consumer: imported by the worker role only. */
@Module({
  imports: [MessagingModule, DiscoveryModule],
  providers: [JetStreamConsumerHost],
})
export class JetStreamConsumerModule {}
