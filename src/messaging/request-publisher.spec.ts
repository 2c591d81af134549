import { messageIdFor } from './request-publisher.js';

// The Idempotency-Key alphabet (idempotency-key.decorator.ts): 1-255 visible ASCII characters.
const KEY = /^[\x21-\x7e]{1,255}$/;

describe('messageIdFor', () => {
  it('is the requestId for the first message, and differs per retry generation', () => {
    expect(messageIdFor('abc', 0)).toBe('abc');
    expect(new Set([0, 1, 2, 10].map((g) => messageIdFor('abc', g))).size).toBe(4);
  });

  it("gives no Idempotency-Key the id of another request's retry", () => {
    expect(messageIdFor('abc#retry-1', 0)).not.toBe(messageIdFor('abc', 1));
    for (const g of [1, 2, 99]) expect(messageIdFor('abc', g)).not.toMatch(KEY);
    // First messages' ids are keys, retries' ids never are: the two sets cannot meet.
    expect(messageIdFor('abc#retry-1', 0)).toMatch(KEY);
  });
});
