import type { NamespaceScope } from '../domain/principal.js';

/** Escapes LIKE's wildcards (and its escape character) so a prefix matches only itself. */
export const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * A key's namespace scope as a SQL condition on `column`, with named parameters for
 * TypeORM's query builder: exact names by `= ANY`, prefixes by `LIKE ANY` on escaped
 * patterns. Undefined when the scope covers every namespace (no condition at all).
 */
export function namespaceScopeWhere(
  column: string,
  scope: NamespaceScope | undefined,
): { sql: string; params: { scopeNames: string[]; scopePrefixes: string[] } } | undefined {
  const filter = scope?.filter;
  if (!filter) return undefined;
  return {
    sql: `(${column} = ANY(CAST(:scopeNames AS text[])) OR ${column} LIKE ANY(CAST(:scopePrefixes AS text[])))`,
    params: { scopeNames: filter.names, scopePrefixes: filter.prefixes.map((p) => `${escapeLike(p)}%`) },
  };
}
