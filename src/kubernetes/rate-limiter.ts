/**
 * Token bucket for calls to the apiserver. client-node has no client-side limiter
 * (client-go defaults to 5 QPS, burst 10); without one a burst of requests turns into
 * a burst of writes that apiserver priority-and-fairness answers with 429s.
 */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private waiters: Array<() => void> = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  async take(): Promise<void> {
    this.refill();
    if (this.tokens >= 1 && this.waiters.length === 0) {
      this.tokens -= 1;
      return;
    }
    await new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      this.schedule();
    });
  }

  private refill() {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
  }

  private schedule() {
    if (this.timer) return;
    const wait = Math.max(1, Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
      while (this.waiters.length && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiters.shift()!();
      }
      if (this.waiters.length) this.schedule();
    }, wait);
    this.timer.unref();
  }
}
