/** What an API key may do. Each role includes the ones before it. */
export const API_ROLES = ['reader', 'writer', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** True when `held` includes everything `needed` allows. */
export const roleIncludes = (held: ApiRole, needed: ApiRole): boolean =>
  API_ROLES.indexOf(held) >= API_ROLES.indexOf(needed);

/** Namespace patterns: exact names, prefixes ending in `*` (`team-*`), or `*`. */
export function matchesNamespacePattern(namespace: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? namespace.startsWith(p.slice(0, -1)) : p === namespace));
}

/** The namespaces one API key may see and (for writers) change. */
export class NamespaceScope {
  constructor(readonly patterns: readonly string[]) {}

  static readonly ALL = new NamespaceScope(['*']);

  get all(): boolean {
    return this.patterns.includes('*');
  }

  covers(namespace: string): boolean {
    return matchesNamespacePattern(namespace, this.patterns);
  }

  /** For SQL filters: undefined when every namespace is in scope; else exact names and prefixes. */
  get filter(): { names: string[]; prefixes: string[] } | undefined {
    if (this.all) return undefined;
    return {
      names: this.patterns.filter((p) => !p.endsWith('*')),
      prefixes: this.patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1)),
    };
  }
}

/** The caller of an API route: the API key that authenticated it. */
export interface Principal {
  keyId: string;
  keyName: string;
  role: ApiRole;
  scope: NamespaceScope;
}
