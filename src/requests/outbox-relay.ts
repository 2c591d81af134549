import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { RequestPublisher } from '../messaging/request-publisher.js';
import { RequestsRepository } from './requests.repository.js';

const BATCH = 200;

/**
 * The transactional outbox's relay: publishes requests that were committed but never
 * made it onto the stream (NATS was down, or the API died between commit and publish).
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    private readonly config: AppConfig,
    private readonly repo: RequestsRepository,
    private readonly publisher: RequestPublisher,
  ) {}

  onApplicationBootstrap() {
    this.timer = setInterval(() => {
      this.running ??= this.relayOnce().finally(() => (this.running = undefined));
    }, this.config.OUTBOX_RELAY_INTERVAL_MS);
  }

  /** Publishes until no CREATED request is older than OUTBOX_RELAY_MIN_AGE_MS. */
  async relayOnce(): Promise<number> {
    if (!this.publisher.available) return 0;
    let total = 0;
    try {
      for (;;) {
        const n = await this.repo.relayCreated(BATCH, this.config.OUTBOX_RELAY_MIN_AGE_MS, (r) =>
          this.publisher.publish(r.requestId, r.generation),
        );
        total += n;
        if (n < BATCH) break;
      }
    } catch (e) {
      this.logger.warn(`relay stopped early: ${(e as Error).message}`);
    }
    if (total) this.logger.log(`relayed ${total} request(s) from the outbox`);
    return total;
  }

  async onApplicationShutdown() {
    clearInterval(this.timer);
    await this.running;
  }
}
