import { EventEmitter } from 'node:events';
import { createServer, request } from 'node:http';
import { drainHttpServer, shutdownOnSignals, type SignalProcess } from './graceful-shutdown.js';

function fakeProcess() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  const proc: SignalProcess & { emit(s: string): void } = {
    on: (e, l) => emitter.on(e, l),
    off: (e, l) => emitter.off(e, l),
    exit: (code: number) => void exits.push(code),
    emit: (s) => emitter.emit(s, s),
  };
  return { proc, exits };
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

describe('shutdownOnSignals', () => {
  it('runs shutdown once on SIGTERM and exits 0 when it finishes', async () => {
    const { proc, exits } = fakeProcess();
    let calls = 0;
    const lines: string[] = [];
    shutdownOnSignals(async () => void calls++, { timeoutMs: 1000, proc, log: (l) => lines.push(l) });
    proc.emit('SIGTERM');
    proc.emit('SIGTERM');
    await tick();
    expect(calls).toBe(1);
    expect(exits).toEqual([0]);
    expect(lines).toContain('SIGTERM: already shutting down');
  });

  it('exits 1 when shutdown does not finish within the timeout, or fails', async () => {
    const hung = fakeProcess();
    shutdownOnSignals(() => new Promise<void>(() => undefined), { timeoutMs: 20, proc: hung.proc, log: () => {} });
    hung.proc.emit('SIGINT');
    await tick(60);
    expect(hung.exits).toEqual([1]);

    const failing = fakeProcess();
    shutdownOnSignals(async () => Promise.reject(new Error('boom')), {
      timeoutMs: 1000,
      proc: failing.proc,
      log: () => {},
    });
    failing.proc.emit('SIGTERM');
    await tick();
    expect(failing.exits).toEqual([1]);
  });
});

describe('drainHttpServer', () => {
  it('refuses new connections, lets a request in flight finish, and reports it drained', async () => {
    let answer!: () => void;
    const server = createServer((_req, res) => {
      answer = () => res.end('done');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const get = () =>
      new Promise<string>((resolve, reject) => {
        request({ port, host: '127.0.0.1', path: '/' }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(body));
        })
          .on('error', reject)
          .end();
      });
    const inFlight = get();
    while (!answer) await tick(5);
    const drained = drainHttpServer(server, 2000);
    await tick(20);
    await expect(get()).rejects.toThrow(/ECONNREFUSED/);
    answer();
    await expect(inFlight).resolves.toBe('done');
    await expect(drained).resolves.toBe(true);
  });

  it('cuts what is still open at the deadline', async () => {
    const server = createServer(() => undefined); // never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const failed = new Promise<Error>((resolve) =>
      request({ port, host: '127.0.0.1', path: '/' }).on('error', resolve).end(),
    );
    await tick(50);
    await expect(drainHttpServer(server, 100)).resolves.toBe(false);
    expect((await failed).message).toMatch(/socket hang up|ECONNRESET/);
  });
});
