import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { RequestQueue } from './request-queue.js';

/**
 * The transactional outbox's relay, on a timer in the API: hands the queue what was
 * committed but never made it onto the stream (NATS was down, or the API died between
 * commit and publish).
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    private readonly config: AppConfig,
    private readonly queue: RequestQueue,
  ) {}

  onApplicationBootstrap() {
    this.timer = setInterval(() => {
      this.running ??= this.queue.relay().finally(() => (this.running = undefined));
    }, this.config.OUTBOX_RELAY_INTERVAL_MS);
  }

  async onApplicationShutdown() {
    clearInterval(this.timer);
    await this.running;
  }
}
