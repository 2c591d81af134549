import { TokenBucket } from './rate-limiter.js';

describe('TokenBucket', () => {
  it('lets a burst through, then holds callers until tokens refill', async () => {
    let now = 0;
    const bucket = new TokenBucket(10, 2, () => now);
    await bucket.take();
    await bucket.take();
    let third = false;
    const pending = bucket.take().then(() => (third = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    now = 150; // 1.5 tokens refilled
    await pending;
    expect(third).toBe(true);
  });
});
