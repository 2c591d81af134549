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

  @IsIn(['fatal', 'error', 'warn', 'log', 'debug', 'verbose'])
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

  @IsString()
  @Matches(/^(nats|tls):\/\//, { message: 'NATS_URL must be a nats:// URL' })
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

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  JS_MAX_DELIVER = 6;

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
  known.add('DATABASE_URL').add('NATS_URL').add('KUBECONFIG');
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
  if (config.RECONCILE_ONCE && config.roles.join() !== 'reconciler') {
    throw new ConfigError('RECONCILE_ONCE=true runs one pass and exits, so it needs ROLE=reconciler alone');
  }
  return config;
}

/** For commands that need only the database (migrations): validates DATABASE_URL alone. */
export function loadDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.DATABASE_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError('Invalid configuration:\n  DATABASE_URL: must be a postgres:// URL');
  }
  return url;
}
