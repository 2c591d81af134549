import { registerDecorator, ValidationArguments, ValidationOptions } from 'class-validator';

/** Kubernetes naming and value rules, in one place, for DTOs to share. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** Kubernetes' environment variable name rule (C identifiers plus '.' and '-'). */
export const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
export const QUANTITY = /^[+]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?$/;
export const IMAGE_REFERENCE = /^[^\s]+$/;
const MAX_ANNOTATIONS_BYTES = 256 * 1024;

export function isDns1123Label(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 63 && DNS1123_LABEL.test(v);
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
          if (value === undefined) return true;
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
        if (keyProblem) return `key "${k}" ${keyProblem}`;
        if (typeof v !== 'string') return `value of "${k}" must be a string`;
        if (v.length > 63 || !LABEL_VALUE.test(v)) {
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
        if (keyProblem) return `key "${k}" ${keyProblem}`;
        if (typeof v !== 'string') return `value of "${k}" must be a string`;
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
        if (!ENV_NAME.test(k)) return `key "${k}" is not a valid environment variable name (${ENV_NAME.source})`;
        if (typeof v !== 'string') return `value of "${k}" must be a string`;
      }
      return undefined;
    },
    options,
  );
