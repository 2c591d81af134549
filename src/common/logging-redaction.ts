/** What a redacted value becomes in a log line. */
export const CENSOR = '[REDACTED]';

/**
 * pino `redact` paths: the known places of secrets in what we log (request headers on
 * access lines, a deployment spec's env values). pino's `*` matches one level only, so
 * scrubLogValue below covers any depth; these are the fast, declared first line.
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'authorization',
  '*.authorization',
  // A spec's env is a name -> value map. (A container's env list, [{name, value}], is left to
  // scrubLogValue, which keeps the names: a path cannot tell a list from a map.)
  'spec.env.*',
  '*.spec.env.*',
];

/** Header (or field) names whose values are credentials, compared lower-cased. */
const SECRET_KEYS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key']);

/** An API key (`kdm_` + 43 base64url characters; any length here, so a truncated one is caught too). */
const API_KEY = /\bkdm_[A-Za-z0-9_-]+/g;
/** A bearer credential written into a message ("Authorization: Bearer abc"). */
const BEARER = /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi;

/** Removes API keys and bearer credentials from free text (log messages, error messages, URLs). */
export function scrubSecrets(text: string): string {
  if (!text.includes('kdm_') && !/bearer/i.test(text)) return text; // the common case, cheaply
  return text.replace(BEARER, `Bearer ${CENSOR}`).replace(API_KEY, `kdm_${CENSOR}`);
}

const MAX_DEPTH = 10;

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * A copy of a logged value without secrets, at any depth: strings lose API keys and bearer
 * credentials, credential headers are censored, and every value of an `env` (a name -> value
 * map, or a list of {name, value}) is censored. Only plain objects and arrays are walked
 * (a request or an Error is serialized elsewhere); unchanged values are returned as they are.
 */
export function scrubLogValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const s = scrubLogValue(v, depth + 1);
      if (s !== v) changed = true;
      return s;
    });
    return changed ? out : value;
  }
  if (!isPlainObject(value)) return value;
  let out: Record<string, unknown> | undefined;
  for (const [key, v] of Object.entries(value)) {
    let s: unknown;
    if (SECRET_KEYS.has(key.toLowerCase()) && v !== undefined && v !== null) s = CENSOR;
    else if (key === 'env') s = censorEnv(v, depth + 1);
    else s = scrubLogValue(v, depth + 1);
    if (s !== v) (out ??= { ...value })[key] = s;
  }
  return out ?? value;
}

/** Keeps an env's names (they help debugging) and censors its values. */
function censorEnv(env: unknown, depth: number): unknown {
  if (Array.isArray(env))
    return env.map((e) => (isPlainObject(e) && 'value' in e ? { ...e, value: CENSOR } : scrubLogValue(e, depth)));
  if (isPlainObject(env)) return Object.fromEntries(Object.keys(env).map((k) => [k, CENSOR]));
  return scrubLogValue(env, depth);
}
