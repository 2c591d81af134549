import { jest } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { exitOnFatalErrors, ProcessLike } from './process-guards.js';

function fakeProcess() {
  const emitter = new EventEmitter();
  const exit = jest.fn<(code: number) => void>();
  const proc: ProcessLike = {
    on: (event, listener) => emitter.on(event, listener),
    off: (event, listener) => emitter.off(event, listener),
    exit,
  };
  return { emitter, proc, exit };
}

describe('exitOnFatalErrors', () => {
  afterEach(() => jest.useRealTimers());

  it('logs one line, closes the app, then exits 1 on an uncaught exception', async () => {
    const { emitter, proc, exit } = fakeProcess();
    const lines: string[] = [];
    const order: string[] = [];
    const close = jest.fn(async () => {
      order.push('close');
    });
    exit.mockImplementation(() => order.push('exit'));
    exitOnFatalErrors(close, { proc, log: (l) => lines.push(l) });
    emitter.emit('uncaughtException', new Error('Cannot publish:\nconnection closed'));
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^fatal uncaughtException: Error: Cannot publish: connection closed \(at .+\); shutting down$/,
    );
    expect(lines[0]).not.toMatch(/[\r\n]/);
    expect(order).toEqual(['close', 'exit']);
    expect(exit).toHaveBeenCalledWith(1);
  });

  it('exits 1 on an unhandled rejection even when closing fails', async () => {
    const { emitter, proc, exit } = fakeProcess();
    const lines: string[] = [];
    exitOnFatalErrors(() => Promise.reject(new Error('close failed')), { proc, log: (l) => lines.push(l) });
    emitter.emit('unhandledRejection', 'plain reason');
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual(['fatal unhandledRejection: plain reason; shutting down']);
    expect(exit).toHaveBeenCalledWith(1);
  });

  it('exits 1 after the timeout when closing hangs, and closes only once on a second fatal error', async () => {
    jest.useFakeTimers();
    const { emitter, proc, exit } = fakeProcess();
    const lines: string[] = [];
    const close = jest.fn(() => new Promise<void>(() => undefined));
    exitOnFatalErrors(close, { proc, log: (l) => lines.push(l), timeoutMs: 1_000 });
    emitter.emit('uncaughtException', new Error('first'));
    emitter.emit('unhandledRejection', new Error('second'));
    expect(exit).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(exit).toHaveBeenCalledWith(1);
    expect(close).toHaveBeenCalledTimes(1);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('(already shutting down)');
  });

  it('removes its handlers when asked', () => {
    const { emitter, proc } = fakeProcess();
    const remove = exitOnFatalErrors(async () => undefined, { proc, log: () => undefined });
    expect(emitter.listenerCount('uncaughtException')).toBe(1);
    remove();
    expect(emitter.listenerCount('uncaughtException')).toBe(0);
    expect(emitter.listenerCount('unhandledRejection')).toBe(0);
  });
});
