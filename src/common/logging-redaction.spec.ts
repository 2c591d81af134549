import { Writable } from 'node:stream';
import { createRootLogger } from './logging.js';
import { CENSOR, scrubLogValue, scrubSecrets } from './logging-redaction.js';

const KEY = `kdm_${'A1b2_C3d4-'.repeat(4)}xyz`; // 43 base64url characters, like a real key

/** A root logger at debug writing into an array of raw lines. */
function capture() {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createRootLogger({ roles: ['api'], LOG_LEVEL: 'debug', LOG_FORMAT: 'json' }, dest);
  return { log, lines, text: () => lines.join('\n') };
}

describe('scrubSecrets', () => {
  it('removes API keys anywhere in a message, and only the key', () => {
    expect(scrubSecrets(`key ${KEY} was revoked`)).toBe(`key kdm_${CENSOR} was revoked`);
    expect(scrubSecrets(`/v1/requests?token=${KEY}&limit=2`)).toBe(`/v1/requests?token=kdm_${CENSOR}&limit=2`);
    expect(scrubSecrets(`a=${KEY},b=${KEY}`)).toBe(`a=kdm_${CENSOR},b=kdm_${CENSOR}`);
  });

  it('removes bearer credentials, whatever the token', () => {
    expect(scrubSecrets('Authorization: Bearer abc.def-ghi')).toBe(`Authorization: Bearer ${CENSOR}`);
    expect(scrubSecrets(`bearer ${KEY}`)).toBe(`Bearer ${CENSOR}`);
  });

  it('leaves text without secrets as it is', () => {
    const text = 'CREATE ns/web succeeded (3f1c) in kdm-namespace';
    expect(scrubSecrets(text)).toBe(text);
  });
});

describe('scrubLogValue', () => {
  it('censors credential headers by name, in any case, at any depth', () => {
    const out = scrubLogValue({
      a: { b: { c: { headers: { Authorization: 'Bearer x', cookie: 's=1', 'x-api-key': 'k', accept: '*/*' } } } },
    });
    expect(out).toEqual({
      a: { b: { c: { headers: { Authorization: CENSOR, cookie: CENSOR, 'x-api-key': CENSOR, accept: '*/*' } } } },
    });
  });

  it('censors the values of an env map and of an env list, keeping the names', () => {
    const out = scrubLogValue({
      request: { spec: { image: 'nginx', env: { DB_PASSWORD: 'hunter2', MODE: 'prod' } } },
      manifest: {
        containers: [
          {
            env: [
              { name: 'TOKEN', value: 'hunter3' },
              { name: 'REF', valueFrom: {} },
            ],
          },
        ],
      },
    });
    expect(out).toEqual({
      request: { spec: { image: 'nginx', env: { DB_PASSWORD: CENSOR, MODE: CENSOR } } },
      manifest: {
        containers: [
          {
            env: [
              { name: 'TOKEN', value: CENSOR },
              { name: 'REF', valueFrom: {} },
            ],
          },
        ],
      },
    });
  });

  it('scrubs keys out of every string, in objects and arrays', () => {
    expect(scrubLogValue({ list: [`x ${KEY}`], deep: { why: `bad key ${KEY}` } })).toEqual({
      list: [`x kdm_${CENSOR}`],
      deep: { why: `bad key kdm_${CENSOR}` },
    });
  });

  it('returns values without secrets unchanged (the same object), and leaves class instances alone', () => {
    const clean = { context: 'RequestProcessor', n: 1, nested: { ok: true } };
    expect(scrubLogValue(clean)).toBe(clean);
    const err = new Error(`bad ${KEY}`);
    expect(scrubLogValue(err)).toBe(err); // the err serializer scrubs errors
  });
});

describe('the root logger', () => {
  it('writes no API key, bearer token, credential header or env value, wherever it is logged', () => {
    const { log, lines, text } = capture();
    log.info(`rejected key ${KEY}`);
    log.info({ context: 'X' }, 'header was %s', `Bearer ${KEY}`);
    log.warn({ req: { headers: { authorization: `Bearer ${KEY}`, cookie: 'sid=secret-cookie' } } }, 'access');
    log.info({ spec: { env: { PASSWORD: 'hunter2-top' } } }, 'spec at the top');
    log.info({ a: { b: { c: { spec: { env: { PASSWORD: 'hunter2-deep' } } } } } }, 'spec deep down');
    log.info({ env: [{ name: 'TOKEN', value: 'hunter2-list' }] }, 'container env');
    log.error({ err: new Error(`kube said: invalid key ${KEY}`) }, 'failed');
    expect(lines).toHaveLength(7);
    for (const secret of [KEY, 'secret-cookie', 'hunter2-top', 'hunter2-deep', 'hunter2-list'])
      expect(text()).not.toContain(secret);
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed[0].msg).toBe(`rejected key kdm_${CENSOR}`);
    expect(parsed[1].msg).toBe(`header was Bearer ${CENSOR}`);
    expect(parsed[2].req.headers).toEqual({ authorization: CENSOR, cookie: CENSOR });
    expect(parsed[3].spec.env).toEqual({ PASSWORD: CENSOR });
    expect(parsed[4].a.b.c.spec.env).toEqual({ PASSWORD: CENSOR });
    expect(parsed[5].env).toEqual([{ name: 'TOKEN', value: CENSOR }]);
    expect(parsed[6].err.message).toBe(`kube said: invalid key kdm_${CENSOR}`);
    expect(parsed[6].err.stack).toContain(`kdm_${CENSOR}`);
  });
});
