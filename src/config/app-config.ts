import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
  ValidationError,
} from 'class-validator';
import { parseRoles, Role } from './roles.js';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
const toBool = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};
const toList = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : value;

/**
 * Every environment variable the service reads, with its default. This class is the
 * only reader of process.env (through loadConfig); everything else injects AppConfig.
 * .env.example documents each field; keep the two in step.
 */
export class AppConfig {
  @IsString()
  ROLE = 'all';

  /** Nest's level names, or pino's (info = log, trace = verbose). */
  @IsIn(['fatal', 'error', 'warn', 'log', 'info', 'debug', 'verbose', 'trace'])
  LOG_LEVEL = 'log';

  /** 0 picks a free port (tests). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  HTTP_PORT = 3000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  HEALTH_PORT = 8081;

  @IsString()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL!: string;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  DATABASE_POOL_SIZE = 10;

  /** One server, or a comma-separated list of a cluster's servers (the client fails over between them). */
  @IsString()
  @Matches(/^(nats|tls):\/\/[^,\s]+(\s*,\s*(nats|tls):\/\/[^,\s]+)*$/, {
    message: 'NATS_URL must be a nats:// URL, or a comma-separated list of them',
  })
  NATS_URL!: string;

  @IsString()
  @Matches(/^[A-Za-z0-9_-]+$/)
  NATS_STREAM = 'DM_REQUESTS';

  @IsString()
  @Matches(/^[A-Za-z0-9_.-]+$/)
  NATS_SUBJECT = 'dm.requests';

  @IsString()
  @Matches(/^[A-Za-z0-9_-]+$/)
  NATS_CONSUMER = 'dm-workers';

  @IsString()
  @Matches(/^[A-Za-z0-9_-]+$/)
  NATS_DLQ_STREAM = 'DM_DLQ';

  @IsString()
  @Matches(/^[A-Za-z0-9_.-]+$/)
  NATS_DLQ_SUBJECT = 'dm.dlq';

  @IsString()
  @Matches(/^[A-Za-z0-9_.-]+$/)
  NATS_CONTROL_SUBJECT = 'dm.control';

  @Transform(toInt)
  @IsInt()
  @Min(1000)
  JS_ACK_WAIT_MS = 30_000;

  /** A safety cap on deliveries per message; -1 (unlimited) because retries are bounded by the request's deadline. */
  @Transform(toInt)
  @IsInt()
  @Min(-1)
  JS_MAX_DELIVER = -1;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  JS_MAX_ACK_PENDING = 1000;

  @Transform(toInt)
  @IsInt()
  @Min(1000)
  JS_DUPLICATE_WINDOW_MS = 120_000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  JS_BACKOFF_BASE_MS = 1000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  JS_BACKOFF_MAX_MS = 60_000;

  @IsOptional()
  @IsString()
  @MinLength(1)
  KUBECONFIG?: string;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  KUBE_QPS = 50;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  KUBE_BURST = 100;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  KUBE_REQUEST_TIMEOUT_MS = 15_000;

  @IsString()
  KUBE_FIELD_MANAGER = 'k8s-deployment-manager';

  @Transform(toList)
  @IsString({ each: true })
  @Matches(/^(\*|[a-z0-9][-a-z0-9]*\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/, {
    each: true,
    message: 'MANAGED_NAMESPACES entries must be namespace names, prefixes ending in * (team-*), or *',
  })
  MANAGED_NAMESPACES: string[] = ['default'];

  @Transform(toBool)
  @IsBoolean()
  CREATE_NAMESPACES = true;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  MAX_REPLICAS = 100;

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  MAX_BODY_BYTES = 65_536;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(256)
  WORKER_CONCURRENCY = 4;

  @Transform(toInt)
  @IsInt()
  @Min(1000)
  REQUEST_DEADLINE_MS = 900_000;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  OUTBOX_RELAY_INTERVAL_MS = 2_000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  OUTBOX_RELAY_MIN_AGE_MS = 1_000;

  @Transform(toBool)
  @IsBoolean()
  WATCH_ALL_DEPLOYMENTS = false;

  @Transform(toInt)
  @IsInt()
  @Min(1000)
  WATCHER_WATCHDOG_MS = 90_000;

  @Transform(toInt)
  @IsInt()
  @Min(1000)
  WATCHER_RESYNC_MS = 600_000;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  LEADER_POLL_MS = 2_000;

  /** Deployments per list page; pages are diffed as they arrive, so memory is bounded by this. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(5000)
  WATCHER_LIST_PAGE_SIZE = 250;

  @IsString()
  @MinLength(9)
  RECONCILE_CRON = '*/5 * * * *';

  @Transform(toBool)
  @IsBoolean()
  RECONCILE_ONCE = false;

  @Transform(toBool)
  @IsBoolean()
  SELF_HEAL = false;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  RECONCILE_STUCK_CREATED_MS = 60_000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  RECONCILE_STALLED_MS = 300_000;

  /** How soon a message comes back when its deployment's lock is held by another worker (±50% jitter). */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  WORKER_BUSY_RETRY_MS = 300;

  /** An admin key registered at API boot (>= 32 visible ASCII characters). A secret: never logged. */
  @IsOptional()
  @IsString()
  @Matches(/^[\x21-\x7e]{32,512}$/, {
    message: 'ADMIN_API_KEY must be 32 to 512 visible ASCII characters (no spaces); e.g. npm run keys -- generate',
  })
  ADMIN_API_KEY?: string;

  /** How long the API trusts a verified key before reading it again (a revoke elsewhere takes this long to bite). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(300_000)
  API_KEY_CACHE_MS = 5_000;

  /**
   * SIGTERM to exit: everything (readiness delay, draining, closing) fits in this, so keep it
   * below the orchestrator's grace period (Kubernetes: terminationGracePeriodSeconds, 30 s).
   */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  SHUTDOWN_TIMEOUT_MS = 25_000;

  /** API only: how long /readyz fails before the listener closes, so load balancers stop sending first. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  SHUTDOWN_READINESS_DELAY_MS = 5_000;

  /** Replicas of the request stream, its consumer and the dead-letter stream (3 on a JetStream cluster). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(5)
  JS_REPLICAS = 1;

  /** json: one JSON object per line (production); pretty: pino-pretty's readable lines (development). */
  @IsIn(['json', 'pretty'])
  LOG_FORMAT = 'json';

  /** Length of one fixed rate-limit window. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  RATE_LIMIT_WINDOW_MS = 10_000;

  /** Calls one API key may make per window, over all API replicas (0 turns rate limiting off). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_LIMIT_MAX = 1_000;

  /** Calls one source address without a valid key may make per window (floods of bad keys). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_LIMIT_ANONYMOUS_MAX = 100;

  /** Which proxies' X-Forwarded-For to believe: false, true, a hop count, or addresses/CIDRs/loopback,linklocal,uniquelocal. */
  @IsString()
  @Matches(/^(true|false|\d+|[0-9A-Za-z.:/]+(\s*,\s*[0-9A-Za-z.:/]+)*)$/, {
    message:
      'TRUST_PROXY must be true, false, a hop count, or comma-separated addresses, CIDRs or loopback/linklocal/uniquelocal',
  })
  TRUST_PROXY = 'false';

  /** Origins allowed to call the API from a browser; empty: CORS off (no Access-Control-* headers). */
  @Transform(toList)
  @IsString({ each: true })
  @Matches(/^https?:\/\/[^\s/,]+$/, {
    each: true,
    message: 'CORS_ORIGINS entries must be origins like https://ui.example.com',
  })
  CORS_ORIGINS: string[] = [];

  /**
   * Field managers whose fields are managed elsewhere by design: a difference they own is not
   * drift and is never healed. kube-controller-manager is the HPA controller's (it scales
   * through the scale subresource).
   */
  @Transform(toList)
  @IsString({ each: true })
  @Matches(/^[^\s,]{1,128}$/, {
    each: true,
    message: 'MANAGED_ELSEWHERE_FIELD_MANAGERS entries must be field manager names',
  })
  MANAGED_ELSEWHERE_FIELD_MANAGERS: string[] = ['kube-controller-manager'];

  /** How long the event log (GET /v1/events, resume by Last-Event-ID) keeps events. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(8760)
  EVENT_RETENTION_HOURS = 24;

  /** Concurrent event streams one API key may hold on one API process; more answer 429. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  EVENT_STREAMS_PER_KEY = 10;

  /** A comment line this often keeps proxies from closing an idle event stream. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  EVENT_HEARTBEAT_MS = 15_000;

  /** Bytes an event stream may have waiting for a client that does not read; past it the client is cut off. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  EVENT_STREAM_BUFFER_BYTES = 1_048_576;

  /** How often the API reads new events when no NOTIFY woke it (NOTIFY is lost behind a transaction pooler). */
  @Transform(toInt)
  @IsInt()
  @Min(50)
  EVENT_POLL_MS = 1_000;

  /**
   * The longest an event id may stay missing while a transaction that may hold it is still open;
   * after that it is passed over (it stays in the table, but live streams skip it).
   */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  EVENT_GAP_TIMEOUT_MS = 10_000;

  roles: Role[] = [];
}

export class ConfigError extends Error {}

function describe(errors: ValidationError[]): string[] {
  return errors.flatMap((e) => {
    const constraints = Object.values(e.constraints ?? {});
    return constraints.length ? [`${e.property}: ${constraints.join('; ')}`] : describe(e.children ?? []);
  });
}

/** Validates the environment once; throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const known = new Set(Object.keys(new AppConfig()).filter((k) => k !== 'roles'));
  known.add('DATABASE_URL').add('NATS_URL').add('KUBECONFIG').add('ADMIN_API_KEY');
  const raw: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const config = plainToInstance(AppConfig, raw);
  const problems = describe(validateSync(config, { forbidUnknownValues: false }));
  if (problems.length) {
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  try {
    config.roles = parseRoles(config.ROLE);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const workerConnections = 2 * config.WORKER_CONCURRENCY + 2;
  if (config.roles.includes('worker') && config.DATABASE_POOL_SIZE < workerConnections) {
    throw new ConfigError(
      `Invalid configuration:\n  DATABASE_POOL_SIZE: ${config.DATABASE_POOL_SIZE} is too small for WORKER_CONCURRENCY=${config.WORKER_CONCURRENCY}; ` +
        `the worker needs at least ${workerConnections} (each request in flight holds a lock connection and uses another)`,
    );
  }
  if (config.roles.includes('worker')) {
    const problems = retryBudgetProblems(config);
    if (problems.length) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  if (config.SHUTDOWN_READINESS_DELAY_MS * 2 > config.SHUTDOWN_TIMEOUT_MS) {
    throw new ConfigError(
      `Invalid configuration:\n  SHUTDOWN_READINESS_DELAY_MS: ${config.SHUTDOWN_READINESS_DELAY_MS} must be at most half of SHUTDOWN_TIMEOUT_MS=${config.SHUTDOWN_TIMEOUT_MS}, to leave time to drain`,
    );
  }
  if (config.RECONCILE_ONCE && config.roles.join() !== 'reconciler') {
    throw new ConfigError('RECONCILE_ONCE=true runs one pass and exits, so it needs ROLE=reconciler alone');
  }
  return config;
}

/**
 * TRUST_PROXY as Fastify's `trustProxy` takes it (the meanings of Express's `trust proxy`). A hop
 * count is a function: Fastify trusts no address at all for a bare number.
 */
export function trustProxySetting(value: string): boolean | string | ((address: string, hop: number) => boolean) {
  if (value === 'true' || value === 'false') return value === 'true';
  if (!/^\d+$/.test(value)) return value;
  const hops = Number(value);
  return (_address, hop) => hop < hops;
}

/**
 * Transient failures are retried until the request's deadline (REQUEST_DEADLINE_MS), so the
 * retry settings must leave that budget usable: several retries fit in it, one Kubernetes
 * call does not outlive it, and a finite delivery cap is not reached before it.
 */
export function retryBudgetProblems(c: AppConfig): string[] {
  const problems: string[] = [];
  const deadline = c.REQUEST_DEADLINE_MS;
  if (c.JS_BACKOFF_BASE_MS > c.JS_BACKOFF_MAX_MS)
    problems.push(`JS_BACKOFF_BASE_MS: ${c.JS_BACKOFF_BASE_MS} is above JS_BACKOFF_MAX_MS=${c.JS_BACKOFF_MAX_MS}`);
  if (c.JS_BACKOFF_MAX_MS >= deadline)
    problems.push(
      `JS_BACKOFF_MAX_MS: ${c.JS_BACKOFF_MAX_MS} must be below REQUEST_DEADLINE_MS=${deadline}, or a single retry delay uses up the whole retry budget`,
    );
  if (c.KUBE_REQUEST_TIMEOUT_MS >= deadline)
    problems.push(
      `KUBE_REQUEST_TIMEOUT_MS: ${c.KUBE_REQUEST_TIMEOUT_MS} must be below REQUEST_DEADLINE_MS=${deadline}, or one Kubernetes call outlives the request`,
    );
  if (c.WORKER_BUSY_RETRY_MS >= deadline)
    problems.push(`WORKER_BUSY_RETRY_MS: ${c.WORKER_BUSY_RETRY_MS} must be below REQUEST_DEADLINE_MS=${deadline}`);
  if (c.JS_MAX_DELIVER === 0) problems.push('JS_MAX_DELIVER: must be -1 (unlimited) or at least 1');
  if (c.JS_MAX_DELIVER > 0) {
    // Deliveries 2..N come after the backoff delays 1..N-1 (busy retries, not counted here, use up more).
    let sum = 0;
    for (let k = 1; k < c.JS_MAX_DELIVER && sum < deadline; k++)
      sum += Math.min(c.JS_BACKOFF_BASE_MS * 2 ** (k - 1), c.JS_BACKOFF_MAX_MS);
    if (sum < deadline)
      problems.push(
        `JS_MAX_DELIVER: ${c.JS_MAX_DELIVER} deliveries with JS_BACKOFF_BASE_MS=${c.JS_BACKOFF_BASE_MS} and JS_BACKOFF_MAX_MS=${c.JS_BACKOFF_MAX_MS} ` +
          `retry for only ${sum} ms, less than REQUEST_DEADLINE_MS=${deadline}; use -1 (unlimited: the deadline bounds retries) or raise it`,
      );
  }
  return problems;
}

/** NATS_URL as the client's list of servers. */
export const natsServers = (config: Pick<AppConfig, 'NATS_URL'>): string[] =>
  config.NATS_URL.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** For commands that need only the database (migrations): validates DATABASE_URL alone. */
export function loadDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.DATABASE_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError('Invalid configuration:\n  DATABASE_URL: must be a postgres:// URL');
  }
  return url;
}
