import { AsyncLocalStorage } from 'node:async_hooks';
import { ConsoleLogger, LogLevel } from '@nestjs/common';

/** Carries the request id through async calls so every log line can name it. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

export const withRequestId = <T>(requestId: string, fn: () => T): T => requestContext.run({ requestId }, fn);

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * The process logger: Nest's console logger, prefixed with the roles this process
 * runs, and tagging each line with the request id in scope. Classes log through
 * `new Logger(ClassName.name)`, which delegates here.
 */
export class AppLogger extends ConsoleLogger {
  constructor(roles: string[], level: LogLevel) {
    super({ prefix: `dm:${roles.join('+')}`, logLevels: LEVELS.slice(0, LEVELS.indexOf(level) + 1) });
  }

  override log(message: unknown, ...rest: unknown[]) {
    super.log(tag(message), ...rest);
  }
  override warn(message: unknown, ...rest: unknown[]) {
    super.warn(tag(message), ...rest);
  }
  override error(message: unknown, ...rest: unknown[]) {
    super.error(tag(message), ...rest);
  }
  override debug(message: unknown, ...rest: unknown[]) {
    super.debug(tag(message), ...rest);
  }
}

function tag(message: unknown): unknown {
  const id = requestContext.getStore()?.requestId;
  return id && typeof message === 'string' ? `[request ${id}] ${message}` : message;
}
