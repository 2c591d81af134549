import type { ProbeState, ReadinessRegistry } from './readiness.registry.js';

/** What the probe reads from the NATS connection. */
export interface NatsConnectionState {
  readonly isReady: boolean;
}

/**
 * The one `nats` readiness probe. What NATS being down means depends on the roles in the
 * process (config/roles.ts natsDownState): the caller says it, so there is one registration.
 */
export function registerNatsProbe(
  registry: ReadinessRegistry,
  nats: NatsConnectionState,
  whenDown: Exclude<ProbeState, 'up'>,
): void {
  registry.register('nats', () => ({ state: nats.isReady ? 'up' : whenDown }));
}
