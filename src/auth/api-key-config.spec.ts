import { ConfigError, loadConfig } from '../config/app-config.js';

const base = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', NATS_URL: 'nats://127.0.0.1:4222' };

describe('API key configuration', () => {
  it('takes ADMIN_API_KEY of 32 or more visible ASCII characters, and API_KEY_CACHE_MS defaults to 5 s', () => {
    const key = 'kdm_' + 'a'.repeat(43);
    const c = loadConfig({ ...base, ADMIN_API_KEY: key });
    expect(c.ADMIN_API_KEY).toBe(key);
    expect(c.API_KEY_CACHE_MS).toBe(5000);
    expect(loadConfig(base).ADMIN_API_KEY).toBeUndefined();
  });

  it.each([
    ['too short', 'x'.repeat(31)],
    ['with a space', `${'x'.repeat(20)} ${'y'.repeat(20)}`],
    ['with a non-ASCII character', `${'x'.repeat(40)}é`],
  ])('refuses an ADMIN_API_KEY %s, naming the variable but never its value', (_, value) => {
    let message = '';
    try {
      loadConfig({ ...base, ADMIN_API_KEY: value });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      message = (e as Error).message;
    }
    expect(message).toContain('ADMIN_API_KEY');
    expect(message).not.toContain(value);
  });
});
