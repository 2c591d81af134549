import type { Server } from 'node:http';

export interface SignalProcess {
  on(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): never | void;
}

export interface SignalOptions {
  /** The whole budget: the process exits 1 when shutdown has not finished by then. */
  timeoutMs: number;
  log?: (line: string) => void;
  proc?: SignalProcess;
}

/**
 * SIGTERM (and SIGINT) run shutdown once, then exit 0; a shutdown that fails, or does not
 * finish within timeoutMs, exits 1 (so the orchestrator's SIGKILL never has to come). A
 * second signal changes nothing. Nest's own signal hooks re-raise the signal after closing,
 * which ends the process with a signal status instead of telling whether it shut down cleanly.
 * Returns a function that removes the handlers.
 */
export function shutdownOnSignals(shutdown: () => Promise<void>, options: SignalOptions): () => void {
  const proc = options.proc ?? process;
  const log = options.log ?? ((line: string) => console.error(line));
  let started = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (started) return log(`${signal}: already shutting down`);
    started = true;
    log(`${signal}: shutting down within ${options.timeoutMs} ms`);
    const timer = setTimeout(() => {
      log(`shutdown did not finish within ${options.timeoutMs} ms (SHUTDOWN_TIMEOUT_MS); exiting`);
      proc.exit(1);
    }, options.timeoutMs);
    timer.unref?.();
    shutdown().then(
      () => {
        clearTimeout(timer);
        log('shut down cleanly');
        proc.exit(0);
      },
      (e: unknown) => {
        clearTimeout(timer);
        log(`shutdown failed: ${(e as Error)?.message ?? String(e)}`);
        proc.exit(1);
      },
    );
  };
  proc.on('SIGTERM', onSignal);
  proc.on('SIGINT', onSignal);
  return () => {
    proc.off('SIGTERM', onSignal);
    proc.off('SIGINT', onSignal);
  };
}

/**
 * Stops accepting connections and lets requests in flight finish: idle keep-alive
 * connections are closed as they become idle (Node closes only those idle at close()),
 * and whatever is still open at the deadline is cut. True when all ended in time.
 */
export async function drainHttpServer(server: Server, withinMs: number): Promise<boolean> {
  if (!server.listening) return true;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const deadline = Date.now() + withinMs;
  let done = false;
  void closed.then(() => (done = true));
  while (!done && Date.now() < deadline) {
    server.closeIdleConnections();
    await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
  }
  if (done) return true;
  server.closeAllConnections();
  return false;
}
