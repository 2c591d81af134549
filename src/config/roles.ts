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

/**
 * What NATS being down means to this process's readiness, or undefined when no role uses NATS.
 * With the API present it is "degraded": intake keeps accepting through the outbox, and an
 * unready pod would stop that traffic (a worker beside it has no traffic to stop). A worker
 * without the API cannot work without NATS: "down".
 */
export function natsDownState(roles: readonly Role[]): 'down' | 'degraded' | undefined {
  if (roles.includes('api')) return 'degraded';
  if (roles.includes('worker')) return 'down';
  return undefined;
}
