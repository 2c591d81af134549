import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from './domain-error.js';

/** Kubernetes' own namespaces: never ours to write, whatever MANAGED_NAMESPACES says. */
export const PROTECTED_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

/**
 * MANAGED_NAMESPACES entries are exact names, prefixes ending in `*` (`team-*`), or `*`.
 */
export function namespaceAllowed(namespace: string, patterns: readonly string[]): boolean {
  if (PROTECTED_NAMESPACES.has(namespace)) return false;
  return patterns.some((p) => (p.endsWith('*') ? namespace.startsWith(p.slice(0, -1)) : p === namespace));
}

@Injectable()
export class NamespacePolicy {
  constructor(private readonly config: AppConfig) {}

  /** Exact namespaces the watcher and reconciler can scope to, or undefined for "list all and filter". */
  get exactNamespaces(): string[] | undefined {
    const p = this.config.MANAGED_NAMESPACES;
    return p.some((x) => x.endsWith('*')) ? undefined : p;
  }

  allows(namespace: string): boolean {
    return namespaceAllowed(namespace, this.config.MANAGED_NAMESPACES);
  }

  assertAllowed(namespace: string) {
    if (!this.allows(namespace)) {
      const why = PROTECTED_NAMESPACES.has(namespace)
        ? 'is a Kubernetes system namespace'
        : `is not in MANAGED_NAMESPACES (${this.config.MANAGED_NAMESPACES.join(', ')})`;
      throw new DomainError(ErrorCode.NamespaceNotAllowed, `namespace "${namespace}" ${why}`);
    }
  }
}
