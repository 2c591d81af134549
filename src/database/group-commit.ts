/** Writes a batch in one statement: one result per item, in the items' order. */
export type BatchWrite<In, Out> = (items: In[]) => Promise<Out[]>;

export const GROUP_COMMIT_MAX_BATCH = 200;

/**
 * Group commit: concurrent callers share one statement. A flush starts as soon as none is in
 * flight; what arrives meanwhile waits for the next flush, which takes all of it (up to
 * maxBatch). So a lone caller pays no wait, and many callers share one round trip and commit.
 *
 * Each caller gets its own result once the statement that carried its item has finished. A
 * batch that fails is written again item by item, so one bad item fails only its own caller
 * (the write must be all-or-nothing per statement, as a single INSERT is).
 */
export class GroupCommit<In, Out> {
  private queue: { item: In; resolve: (v: Out) => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;

  constructor(
    private readonly write: BatchWrite<In, Out>,
    private readonly maxBatch = GROUP_COMMIT_MAX_BATCH,
  ) {}

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      // A microtask, so callers submitting in the same tick share the first flush too.
      if (!this.flushing) {
        this.flushing = true;
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) await this.flush(this.queue.splice(0, this.maxBatch));
    } finally {
      // Never left set: the next submission must be able to start a flush.
      this.flushing = false;
    }
  }

  private async flush(batch: typeof this.queue): Promise<void> {
    let results: Out[];
    try {
      results = await this.write(batch.map((b) => b.item));
    } catch (e) {
      if (batch.length === 1) return batch[0].reject(e);
      // Nothing of the failed statement was written: each item alone gets its own outcome.
      await Promise.all(batch.map((b) => this.flush([b])));
      return;
    }
    if (results.length !== batch.length) {
      // A bug in the write, not a failed statement: written again, items could be doubled.
      const e = new Error(`group commit: ${results.length} results for ${batch.length} items`);
      return batch.forEach((b) => b.reject(e));
    }
    batch.forEach((b, i) => b.resolve(results[i]));
  }
}
