import { Writable } from 'node:stream';
import type { Role } from '../config/roles.js';
import {
  createNestLogger,
  createRootLogger,
  currentCorrelationId,
  withLogContext,
  type LoggingConfig,
} from './logging.js';

function capture(overrides: Partial<LoggingConfig> = {}) {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const config: LoggingConfig = {
    roles: ['api', 'worker'] as Role[],
    LOG_LEVEL: 'log',
    LOG_FORMAT: 'json',
    ...overrides,
  };
  const root = createRootLogger(config, dest);
  return { root, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createRootLogger', () => {
  it('writes one JSON object per line naming the roles, the level and an ISO time', () => {
    const { root, json } = capture();
    root.info('hello');
    expect(json()).toEqual([
      expect.objectContaining({
        level: 'info',
        role: 'api,worker',
        msg: 'hello',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      }),
    ]);
  });

  it.each([
    ['log', ['info', 'warn']],
    ['info', ['info', 'warn']],
    ['warn', ['warn']],
    ['debug', ['debug', 'info', 'warn']],
    ['verbose', ['trace', 'debug', 'info', 'warn']],
  ])('LOG_LEVEL=%s keeps %j', (level, kept) => {
    const { root, json } = capture({ LOG_LEVEL: level });
    for (const l of ['trace', 'debug', 'info', 'warn'] as const) root[l](l);
    expect(json().map((l) => l.level)).toEqual(kept);
  });

  it('LOG_FORMAT=pretty writes readable lines with the roles, not JSON', () => {
    const { root, lines } = capture({ LOG_FORMAT: 'pretty' });
    root.info({ context: 'RequestProcessor' }, 'applied');
    expect(lines.length).toBeGreaterThan(0);
    expect(() => JSON.parse(lines[0])).toThrow();
    expect(lines[0]).toContain('api,worker [RequestProcessor] applied');
  });
});

describe('createNestLogger and withLogContext', () => {
  it('gives every line inside a context its ids, and none outside', async () => {
    const { root, json } = capture();
    const logger = createNestLogger(root);
    await withLogContext({ correlationId: 'corr-1', requestId: 'req-1' }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      logger.log('inside', 'RequestProcessor');
      expect(currentCorrelationId()).toBe('corr-1');
    });
    logger.warn('outside', 'RequestProcessor');
    expect(currentCorrelationId()).toBeUndefined();
    const [inside, outside] = json();
    expect(inside).toMatchObject({
      msg: 'inside',
      context: 'RequestProcessor',
      correlationId: 'corr-1',
      requestId: 'req-1',
    });
    expect(outside).toMatchObject({ msg: 'outside', level: 'warn' });
    expect(outside).not.toHaveProperty('correlationId');
    expect(outside).not.toHaveProperty('requestId');
  });

  it('an inner context replaces the outer one, and unset ids are left out', () => {
    const { root, json } = capture();
    const logger = createNestLogger(root);
    withLogContext({ correlationId: 'outer', requestId: 'woken-by' }, () =>
      withLogContext({ requestId: 'applied' }, () => logger.log('inner')),
    );
    expect(json()[0]).toMatchObject({ requestId: 'applied' });
    expect(json()[0]).not.toHaveProperty('correlationId');
  });
});
