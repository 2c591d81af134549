export const ROLES = ['api', 'worker', 'watcher', 'reconciler'] as const;
export type Role = (typeof ROLES)[number];

/** Parses ROLE: a comma-separated subset of ROLES, or `all`. */
export function parseRoles(value: string): Role[] {
  const names = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (names.length === 0) throw new Error(`ROLE is empty; valid roles: ${ROLES.join(', ')} or all`);
  if (names.includes('all')) return [...ROLES];
  const unknown = names.filter((n) => !(ROLES as readonly string[]).includes(n));
  if (unknown.length) {
    throw new Error(`ROLE: unknown role "${unknown.join('", "')}"; valid roles: ${ROLES.join(', ')} or all`);
  }
  return ROLES.filter((r) => names.includes(r));
}
