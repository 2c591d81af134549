import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { RequestsRepository } from './requests.repository.js';

const MAX_BATCH = 500;
const FLUSH_DELAY_MS = 5;

/**
 * The RequestQueue's batching of enqueue's QUEUED marks, off the request path: one UPDATE per few
 * milliseconds instead of one per request. Losing a batch (a crash) is harmless: the
 * request stays CREATED, the relay publishes it again, and JetStream's duplicate window
 * or the worker's state check drops the repeat.
 */
@Injectable()
export class QueuedMarker implements OnApplicationShutdown {
  private readonly logger = new Logger(QueuedMarker.name);
  private pending: string[] = [];
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly repo: RequestsRepository) {}

  mark(requestId: string) {
    this.pending.push(requestId);
    if (this.pending.length >= MAX_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length) {
      this.flushing = this.flushing.then(() =>
        this.repo.markQueued(batch).then(
          () => undefined,
          (e: Error) => this.logger.warn(`${batch.length} request(s) stay CREATED for the relay: ${e.message}`),
        ),
      );
    }
    return this.flushing;
  }

  async onApplicationShutdown() {
    await this.flush();
  }
}
