import { API_ROLES, type ApiRole } from '../domain/principal.js';

/** What a caller asks for when creating a key (HTTP body or CLI flags). */
export interface ApiKeyInput {
  name: string;
  role: ApiRole;
  /** Names or `prefix*` patterns; `*` is every namespace. Admin keys: omitted or exactly `*`. */
  namespaces?: string[];
  expiresAt?: Date;
}

/** The grammar MANAGED_NAMESPACES uses: a namespace name, a prefix ending in `*`, or `*`. */
export const NAMESPACE_PATTERN = /^(\*|[a-z0-9][-a-z0-9]*\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/;
export const MAX_NAMESPACE_PATTERNS = 100;
const NAME = /^[\x20-\x7e]{1,100}$/;

/** Every problem with the input, each naming its field; empty when it is good. */
export function apiKeyInputProblems(input: ApiKeyInput, now: Date): string[] {
  const problems: string[] = [];
  if (typeof input.name !== 'string' || !NAME.test(input.name) || input.name.trim() === '')
    problems.push('name must be 1 to 100 printable ASCII characters, not only spaces');
  if (!API_ROLES.includes(input.role)) problems.push(`role must be one of ${API_ROLES.join(', ')}`);
  const ns = input.namespaces;
  if (ns !== undefined) {
    if (!Array.isArray(ns) || ns.length === 0 || ns.length > MAX_NAMESPACE_PATTERNS)
      problems.push(`namespaces must list 1 to ${MAX_NAMESPACE_PATTERNS} namespace names or patterns`);
    else
      for (const p of ns)
        if (typeof p !== 'string' || p.length > 63 || !NAMESPACE_PATTERN.test(p))
          problems.push(
            `namespaces: ${JSON.stringify(p).slice(0, 80)} is not a namespace name, a prefix ending in * (team-*), or *`,
          );
  }
  if (input.role === 'admin' && ns !== undefined && !(ns.length === 1 && ns[0] === '*'))
    problems.push('namespaces: an admin key always has scope * (every namespace); leave namespaces out or send ["*"]');
  if ((input.role === 'reader' || input.role === 'writer') && ns === undefined)
    problems.push(`namespaces is required for a ${input.role} key (send ["*"] for every namespace)`);
  if (input.expiresAt !== undefined) {
    if (!(input.expiresAt instanceof Date) || Number.isNaN(input.expiresAt.getTime()))
      problems.push('expiresAt must be an ISO 8601 date-time');
    else if (input.expiresAt.getTime() <= now.getTime()) problems.push('expiresAt must be in the future');
  }
  return problems;
}
