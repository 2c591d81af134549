import { Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { NatsClient } from './nats-client.js';

/**
 * Feeds the JetStream gauges at scrape time, in every role that talks to NATS: the request
 * consumer's num_pending and num_ack_pending, and the dead-letter stream's message count.
 * While NATS is down the reading fails (counted) and the last values stay.
 */
@Injectable()
export class JetStreamMetrics implements OnModuleInit {
  constructor(
    private readonly config: AppConfig,
    private readonly nats: NatsClient,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit() {
    this.metrics.registerScrapeSource('jetstream', async () => {
      const jsm = this.nats.manager();
      const [consumer, dlq] = await Promise.all([
        jsm.consumers.info(this.config.NATS_STREAM, this.config.NATS_CONSUMER),
        jsm.streams.info(this.config.NATS_DLQ_STREAM),
      ]);
      return {
        stream: this.config.NATS_STREAM,
        consumer: this.config.NATS_CONSUMER,
        numPending: consumer.num_pending,
        numAckPending: consumer.num_ack_pending,
        dlqStream: this.config.NATS_DLQ_STREAM,
        dlqMessages: dlq.state.messages,
      };
    });
  }
}
