import { createHash } from 'node:crypto';
import { bearerToken, displayPrefix, generateApiKeySecret, hashApiKey } from './api-key-secret.js';

describe('API key secrets', () => {
  it('are kdm_ and 32 random bytes in base64url, different every time', () => {
    const a = generateApiKeySecret();
    expect(a).toMatch(/^kdm_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.slice(4), 'base64url')).toHaveLength(32);
    expect(new Set(Array.from({ length: 50 }, generateApiKeySecret)).size).toBe(50);
  });

  it('are stored as SHA-256 hex', () => {
    const s = generateApiKeySecret();
    expect(hashApiKey(s)).toBe(createHash('sha256').update(s).digest('hex'));
    expect(hashApiKey(s)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('show kdm_ and 8 characters to recognise a key, and only 4 characters of a key of another form', () => {
    expect(displayPrefix('kdm_ABCDEFGHijklmnop')).toBe('kdm_ABCDEFGH');
    expect(displayPrefix('my-own-admin-key-of-some-length!!')).toBe('my-o');
  });

  it.each([
    ['Bearer kdm_abc', 'kdm_abc'],
    ['bearer kdm_abc', 'kdm_abc'],
    ['Bearer   kdm_abc ', 'kdm_abc'],
    [undefined, undefined],
    ['', undefined],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Basic dXNlcjpwYXNz', undefined],
    ['Bearer a b', undefined],
    ['Bearer kdm_\u00e9', undefined],
    [`Bearer ${'x'.repeat(513)}`, undefined],
    [['Bearer a', 'Bearer b'], undefined],
  ])('reads the key of the Authorization header %j', (header, expected) => {
    expect(bearerToken(header as string | string[] | undefined)).toBe(expected);
  });
});
