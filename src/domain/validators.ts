import { applyDecorators } from '@nestjs/common';
import {
  IsString,
  Matches,
  MaxLength,
  registerDecorator,
  ValidateIf,
  ValidationArguments,
  ValidationOptions,
} from 'class-validator';
import { isResourceQuantity } from './quantity.js';

/** Kubernetes naming and value rules, and the input checks every transport shares: one definition each. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** Kubernetes' environment variable name rule (C identifiers plus '.' and '-'). */
export const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
export const IMAGE_REFERENCE = /^[^\s]+$/;
const MAX_ANNOTATIONS_BYTES = 256 * 1024;
/** A request id: an Idempotency-Key or a server-assigned UUID. */
export const REQUEST_ID = /^[\x21-\x7e]{1,255}$/;
/** Our DTOs nest 3 levels deep; anything much deeper is an attack on the recursive transformer. */
export const MAX_INPUT_DEPTH = 8;
// A surrogate code unit not part of a pair: with the u flag, only lone ones match \p{Cs}.
const LONE_SURROGATE = /\p{Cs}/u;
// Keys that the input pipeline treats specially: Nest's ValidationPipe deletes `__proto__`,
// `prototype` and `constructor`; class-transformer drops the other Object.prototype members
// (hasOwnProperty, toString...) and crashes on some. Refused, so nothing is dropped silently.
const RESERVED_KEYS: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

export function isDns1123Label(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 63 && DNS1123_LABEL.test(v);
}

export const isLabelValue = (v: string) => v.length <= 63 && LABEL_VALUE.test(v);

/** A label selector term `key=value`: a label key and a label value. */
export function isLabelTerm(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const eq = v.indexOf('=');
  return eq > 0 && qualifiedNameProblem(v.slice(0, eq)) === undefined && isLabelValue(v.slice(eq + 1));
}

/** A label or annotation key: `[prefix/]name`, prefix a DNS-1123 subdomain ≤ 253, name ≤ 63. */
export function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'has more than one "/"';
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    return 'has a prefix that is not a DNS-1123 subdomain';
  }
  if (!name || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) {
    return 'must be 1-63 alphanumerics, "-", "_" or ".", starting and ending alphanumeric';
  }
  return undefined;
}

function mapDecorator(
  name: string,
  check: (obj: Record<string, unknown>) => string | undefined,
  options?: ValidationOptions,
): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    let problem: string | undefined;
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate(value: unknown) {
          // Absent is fine; null is IsOptionalNotNull's to refuse, with its own message.
          if (value === undefined || value === null) return true;
          if (typeof value !== 'object' || value === null || Array.isArray(value)) {
            problem = 'must be an object of string values';
            return false;
          }
          problem = check(value as Record<string, unknown>);
          return problem === undefined;
        },
        defaultMessage(args: ValidationArguments) {
          return `${args.property} ${problem}`;
        },
      },
    });
  };
}

export const IsLabelMap = (options?: ValidationOptions) =>
  mapDecorator(
    'isLabelMap',
    (obj) => {
      for (const [k, v] of Object.entries(obj)) {
        const keyProblem = qualifiedNameProblem(k);
        if (keyProblem) return `key ${shown(k)} ${keyProblem}`;
        if (typeof v !== 'string') return `value of "${k}" must be a string`;
        if (!isLabelValue(v)) {
          return `value of "${k}" must be at most 63 alphanumerics, "-", "_" or ".", starting and ending alphanumeric`;
        }
      }
      return undefined;
    },
    options,
  );

export const IsAnnotationMap = (options?: ValidationOptions) =>
  mapDecorator(
    'isAnnotationMap',
    (obj) => {
      let size = 0;
      for (const [k, v] of Object.entries(obj)) {
        const keyProblem = qualifiedNameProblem(k);
        if (keyProblem) return `key ${shown(k)} ${keyProblem}`;
        if (typeof v !== 'string') return `value of "${k}" must be a string`;
        const valueProblem = textProblem(v);
        if (valueProblem) return `value of "${k}" ${valueProblem}`;
        size += k.length + v.length;
      }
      return size > MAX_ANNOTATIONS_BYTES ? `total size must be at most ${MAX_ANNOTATIONS_BYTES} bytes` : undefined;
    },
    options,
  );

export const IsEnvMap = (options?: ValidationOptions) =>
  mapDecorator(
    'isEnvMap',
    (obj) => {
      for (const [k, v] of Object.entries(obj)) {
        if (!ENV_NAME.test(k)) return `key ${shown(k)} is not a valid environment variable name (${ENV_NAME.source})`;
        if (typeof v !== 'string') return `value of "${k}" must be a string`;
        const valueProblem = textProblem(v);
        if (valueProblem) return `value of "${k}" ${valueProblem}`;
      }
      return undefined;
    },
    options,
  );

/** What no input string may hold: PostgreSQL refuses NUL (text and jsonb) and lone surrogates (jsonb). */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate';
  return undefined;
}

/** A key or value as messages show it: quoted, escaped, at most 64 characters. */
export function shown(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}...` : s);
}

const childPath = (path: string, key: string) =>
  /^[\w./-]{1,64}$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${shown(key)}]`;

/**
 * Problems anywhere in raw input (a parsed JSON body, the query, path parameters), each
 * naming where: NUL or lone surrogates in any string or key, reserved object keys, null,
 * and nesting deeper than MAX_INPUT_DEPTH. Checked before class-transformer sees the input.
 */
export function rawInputProblems(value: unknown, path = '', depth = 0, limit = 10): string[] {
  const problems: string[] = [];
  const visit = (v: unknown, at: string, level: number) => {
    if (problems.length >= limit) return;
    if (typeof v === 'string') {
      const p = textProblem(v);
      if (p) problems.push(`${at || 'value'} ${p}`);
      return;
    }
    if (v === null) {
      // No input field of this API is nullable: null would silently drop the field.
      problems.push(`${at || 'body'} must not be null`);
      return;
    }
    if (typeof v !== 'object') return;
    if (level > MAX_INPUT_DEPTH) {
      problems.push(`${at || 'body'} is nested more than ${MAX_INPUT_DEPTH} levels deep`);
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((item, i) => visit(item, `${at}[${i}]`, level + 1));
      return;
    }
    for (const [k, item] of Object.entries(v)) {
      const keyProblem =
        textProblem(k) ?? (RESERVED_KEYS.has(k) ? 'is reserved (a JavaScript object member)' : undefined);
      if (keyProblem) {
        problems.push(`${at ? `${at} key` : 'key'} ${shown(k)} ${keyProblem}`);
        continue;
      }
      visit(item, childPath(at, k), level + 1);
    }
  };
  visit(value, path, depth);
  return problems;
}

/**
 * Optional, but never null: skips validation when the field is absent, and refuses null
 * (which class-validator's IsOptional accepts, and which would silently drop the field).
 */
export const IsOptionalNotNull = (options?: ValidationOptions) =>
  applyDecorators(
    ValidateIf((_obj: object, value: unknown) => value !== undefined),
    IsNotNull(options),
  );

/** Refuses null; pair with required fields so `{"replicas": null}` says so plainly. */
export function IsNotNull(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isNotNull',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value: unknown) => value !== null,
        defaultMessage: (args: ValidationArguments) => `${args.property} must not be null`,
      },
    });
}

function predicateDecorator(
  name: string,
  check: (value: unknown) => boolean,
  message: string,
  options?: ValidationOptions,
): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message, ...options },
      validator: { validate: check },
    });
}

// applyDecorators applies in list order, stacked decorators bottom-up: lists are written bottom-up,
// so the messages come out in the order they did when each DTO stacked these itself.
const DNS1123_LABEL_MESSAGE = '$property must be a DNS-1123 label (lowercase alphanumerics and "-")';

/** A namespace or a Deployment we create: a string, at most 63 characters, a DNS-1123 label. */
export const IsDns1123Label = () =>
  applyDecorators(Matches(DNS1123_LABEL, { message: DNS1123_LABEL_MESSAGE }), MaxLength(63), IsString());

/** Any object name Kubernetes accepts (mirrored Deployments): a DNS-1123 subdomain, at most 253 characters. */
export const IsDns1123Subdomain = () =>
  applyDecorators(
    Matches(DNS1123_SUBDOMAIN, { message: '$property must be a DNS-1123 subdomain' }),
    MaxLength(253),
    IsString(),
  );

/** A resource request or limit: a Kubernetes quantity, not negative. */
export const IsQuantity = () =>
  applyDecorators(
    predicateDecorator(
      'isQuantity',
      isResourceQuantity,
      '$property must be a Kubernetes quantity such as 250m, 1, 512Mi or 2Gi',
    ),
    IsString(),
  );

/** An image reference: no whitespace (the DTO bounds its length). */
export const IsImageReference = () =>
  Matches(IMAGE_REFERENCE, { message: '$property must be an image reference with no whitespace' });

export const IsRequestId = () =>
  applyDecorators(
    Matches(REQUEST_ID, { message: '$property must be 1-255 visible ASCII characters (no spaces)' }),
    IsString(),
  );

/** Each element a label selector term `key=value` (repeated query parameters). */
export const IsLabelTerms = () =>
  predicateDecorator('isLabelTerm', isLabelTerm, 'label must be key=value with a Kubernetes label key and value', {
    each: true,
  });

// The same rules as OpenAPI schema keywords, so the document states what the validators enforce.
// Written with explicit ASCII classes: JSON Schema tools read patterns as ECMA-262 or Python
// regexes, where \d, \w and \s differ.
export const DNS_LABEL = { minLength: 1, maxLength: 63, pattern: DNS1123_LABEL.source } as const;
export const DNS_SUBDOMAIN = { minLength: 1, maxLength: 253, pattern: DNS1123_SUBDOMAIN.source } as const;
export const LABEL_VALUE_PATTERN = LABEL_VALUE.source;
/** A label or annotation key: an optional DNS-1123 subdomain prefix and "/", then a name of at most 63. */
export const QUALIFIED_NAME = {
  maxLength: 317,
  pattern:
    '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$',
} as const;
/** IMAGE_REFERENCE with ECMAScript's \s spelled out, and NUL (refused in every string). */
export const IMAGE_PATTERN =
  '^[^\\u0000\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]+$';
/** isResourceQuantity: QUANTITY without negative values (a minus sign only before zero). */
export const QUANTITY_PATTERN =
  '^(\\+?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)|-(0+(\\.0*)?|\\.0+))((Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|([eE][+-]?[0-9]+))?$';
/** isLabelTerm: a label key, "=", a label value. */
export const LABEL_TERM_PATTERN = `${QUALIFIED_NAME.pattern.slice(0, -1)}=(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$`;
