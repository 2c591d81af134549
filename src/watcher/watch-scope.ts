import { createHash } from 'node:crypto';
import type { AppConfig } from '../config/app-config.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../domain/deployment-spec.js';
import { namespaceAllowed, NamespacePolicy } from '../domain/namespace-policy.js';

/**
 * One list+watch stream and the slice of the mirror it answers for: a single namespace
 * when MANAGED_NAMESPACES names them exactly (namespaced RBAC is enough), otherwise all
 * namespaces filtered by the patterns.
 */
export interface WatchScope {
  /** watcher_state primary key; changes whenever what the stream would see changes. */
  key: string;
  namespace?: string;
  /** MANAGED_NAMESPACES patterns, for the all-namespaces stream. */
  patterns?: string[];
  labelSelector?: string;
}

export const scopeIncludes = (scope: WatchScope, namespace: string | undefined): boolean =>
  !!namespace && (scope.namespace ? scope.namespace === namespace : namespaceAllowed(namespace, scope.patterns ?? []));

const MAX_KEY = 255;

function scopeKey(where: string, selector: string | undefined): string {
  const key = `deployments ns=${where} selector=${selector ?? '*'}`;
  if (key.length <= MAX_KEY) return key;
  return `${key.slice(0, MAX_KEY - 17)}#${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

export function watchScopes(config: AppConfig, policy: NamespacePolicy): WatchScope[] {
  const labelSelector = config.WATCH_ALL_DEPLOYMENTS ? undefined : `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  const exact = policy.exactNamespaces;
  if (exact) {
    return [...new Set(exact)]
      .filter((ns) => policy.allows(ns))
      .sort()
      .map((namespace) => ({ key: scopeKey(namespace, labelSelector), namespace, labelSelector }));
  }
  const patterns = [...new Set(config.MANAGED_NAMESPACES)].sort();
  return [{ key: scopeKey(`(${patterns.join(',')})`, labelSelector), patterns, labelSelector }];
}

/** Watchers configured alike compete for one lock; differently scoped ones do not block each other. */
export const leaderLockName = (scopes: WatchScope[]): string => `dm-watcher:${scopes.map((s) => s.key).join('|')}`;
