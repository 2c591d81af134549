import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { NatsClient } from './nats-client.js';
import { RequestPublisher } from './request-publisher.js';
import { JetStreamServer } from './jetstream.server.js';
import { JetStreamMetrics } from './jetstream-metrics.js';
import { CONSUMER_BINDINGS, consumerBindings } from './jetstream-topology.js';

/**
 * The one NATS connection, the request publisher, and the JetStream transport strategy;
 * shared by every role that talks to NATS. The strategy only runs where bootstrap starts
 * it (the role map says which processes consume).
 */
@Module({
  providers: [
    NatsClient,
    RequestPublisher,
    JetStreamServer,
    { provide: CONSUMER_BINDINGS, useFactory: consumerBindings, inject: [AppConfig] },
    JetStreamMetrics,
  ],
  exports: [NatsClient, RequestPublisher, JetStreamServer],
})
export class MessagingModule {}
