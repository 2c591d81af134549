import { sanitizeReason } from './domain/reason-text.js';

/** How long a fatal error waits for the app to close before the process exits anyway. */
export const FATAL_CLOSE_TIMEOUT_MS = 10_000;

export interface ProcessLike {
  on(event: 'uncaughtException' | 'unhandledRejection', listener: (e: unknown) => void): unknown;
  off(event: 'uncaughtException' | 'unhandledRejection', listener: (e: unknown) => void): unknown;
  exit(code: number): never | void;
}

export interface FatalGuardOptions {
  timeoutMs?: number;
  log?: (line: string) => void;
  proc?: ProcessLike;
}

/**
 * Makes an uncaught exception or unhandled rejection end the process the same way every
 * time: one log line, then a bounded attempt to close the app (so NATS messages are
 * released and PostgreSQL sessions end), then exit 1. Node's default would print a stack
 * and exit at once (exception), or exit without closing anything (rejection).
 * Returns a function that removes the handlers.
 */
export function exitOnFatalErrors(close: () => Promise<void>, options: FatalGuardOptions = {}): () => void {
  const proc = options.proc ?? process;
  const log = options.log ?? ((line: string) => console.error(line));
  const timeoutMs = options.timeoutMs ?? FATAL_CLOSE_TIMEOUT_MS;
  let exiting = false;
  const handler = (kind: string) => (e: unknown) => {
    log(`fatal ${kind}: ${describe(e)}${exiting ? ' (already shutting down)' : '; shutting down'}`);
    if (exiting) return;
    exiting = true;
    const timer = setTimeout(() => proc.exit(1), timeoutMs);
    void close()
      .catch(() => undefined)
      .finally(() => {
        clearTimeout(timer);
        proc.exit(1);
      });
  };
  const onException = handler('uncaughtException');
  const onRejection = handler('unhandledRejection');
  proc.on('uncaughtException', onException);
  proc.on('unhandledRejection', onRejection);
  return () => {
    proc.off('uncaughtException', onException);
    proc.off('unhandledRejection', onRejection);
  };
}

/** One line: the error and where it was thrown. */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return sanitizeReason(String(e), 500);
  const at = e.stack?.split('\n').find((l) => l.trim().startsWith('at '));
  return sanitizeReason(`${e.name}: ${e.message}${at ? ` (${at.trim()})` : ''}`, 500);
}
