import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import type { LoggerService } from '@nestjs/common';
import { Logger as NestPinoLogger, PinoLogger } from 'nestjs-pino';
import { pino, type DestinationStream, type Level, type Logger as Pino } from 'pino';
import pinoPretty from 'pino-pretty';
import type { AppConfig } from '../config/app-config.js';
import { CENSOR, REDACT_PATHS, scrubLogValue, scrubSecrets } from './logging-redaction.js';

/**
 * What every line logged inside a context carries: the correlation id (the API's
 * X-Request-Id, stored on the request record and carried in NATS headers) and, while a
 * worker handles one, the deployment request's id.
 */
export interface LogContext {
  correlationId?: string;
  requestId?: string;
}

const logContext = new AsyncLocalStorage<LogContext>();

/** Runs fn (and everything it awaits) with ctx's ids on every log line; it replaces any outer context. */
export function withLogContext<T>(ctx: LogContext, fn: () => T): T {
  const bound: LogContext = {};
  if (ctx.correlationId) bound.correlationId = ctx.correlationId;
  if (ctx.requestId) bound.requestId = ctx.requestId;
  return logContext.run(bound, fn);
}

/** The correlation id of the HTTP request (or message) being handled, if any. */
export const currentCorrelationId = (): string | undefined => logContext.getStore()?.correlationId;

/** LOG_LEVEL takes Nest's names (log, verbose) and pino's (info, trace). */
const PINO_LEVELS: Record<string, Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  info: 'info',
  debug: 'debug',
  verbose: 'trace',
  trace: 'trace',
};

export type LoggingConfig = Pick<AppConfig, 'roles' | 'LOG_LEVEL' | 'LOG_FORMAT'>;

/** pino's Error serializer, with API keys and bearer credentials scrubbed from the message and stack. */
export function serializeError(e: unknown): unknown {
  const s: unknown = e instanceof Error ? pino.stdSerializers.err(e) : e;
  if (!s || typeof s !== 'object') return s;
  const out: Record<string, unknown> = { ...(s as Record<string, unknown>) };
  for (const k of ['message', 'stack']) if (typeof out[k] === 'string') out[k] = scrubSecrets(out[k] as string);
  return out;
}

/**
 * The process's pino logger: one JSON object per line on stdout (LOG_FORMAT=json), or
 * pino-pretty's lines (LOG_FORMAT=pretty), each naming the roles this process runs. Secrets
 * are removed three ways: REDACT_PATHS, scrubLogValue over every logged object, and
 * scrubSecrets over message strings. Tests pass their own destination to read the lines.
 * Writes are synchronous, so the last lines before an exit are not lost.
 */
export function createRootLogger(config: LoggingConfig, destination?: DestinationStream): Pino {
  const pretty = config.LOG_FORMAT === 'pretty';
  const stream = pretty
    ? pinoPretty({
        destination: destination ?? 1,
        sync: true,
        colorize: !destination && process.stdout.isTTY,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,role,context',
        messageFormat: '{role} {if context}[{context}] {end}{msg}',
      })
    : (destination ?? pino.destination({ fd: 1, sync: true }));
  return pino(
    {
      level: PINO_LEVELS[config.LOG_LEVEL] ?? 'info',
      base: { role: config.roles.join(','), pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: CENSOR },
      serializers: { err: serializeError },
      formatters: {
        // Level names read better than numbers in JSON; pino-pretty wants the numbers.
        ...(pretty ? {} : { level: (label: string) => ({ level: label }) }),
        log: (obj: Record<string, unknown>) => scrubLogValue(obj) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a: unknown) => (typeof a === 'string' ? scrubSecrets(a) : a));
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    stream,
  );
}

/**
 * nestjs-pino's PinoLogger on this app's own pino instance, binding the current LogContext.
 * (nestjs-pino keeps one root logger per process; tests boot several apps in one process,
 * each with its own roles and destination.)
 */
class ContextPinoLogger extends PinoLogger {
  constructor(private readonly root: Pino) {
    super({ pinoHttp: { logger: root } });
  }

  override get logger(): Pino {
    const ctx = logContext.getStore();
    return ctx && (ctx.correlationId || ctx.requestId) ? this.root.child(ctx) : this.root;
  }
}

/**
 * The Nest logger for an app: nestjs-pino's Logger over createRootLogger's pino. Classes keep
 * logging through `new Logger(ClassName.name)`, which Nest delegates here; the class name
 * becomes the line's `context`.
 */
export function createNestLogger(root: Pino): LoggerService {
  return new NestPinoLogger(new ContextPinoLogger(root), {});
}
