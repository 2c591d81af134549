import { Injectable } from '@nestjs/common';

export type ProbeState = 'up' | 'down' | 'degraded';
export interface ProbeResult {
  state: ProbeState;
  data?: Record<string, unknown>;
}
export type Probe = () => Promise<ProbeResult> | ProbeResult;

/**
 * Readiness is the sum of what this process's roles depend on. Each component that
 * matters registers a probe at init, so /readyz needs no knowledge of roles.
 */
@Injectable()
export class ReadinessRegistry {
  private readonly probes = new Map<string, Probe>();

  register(name: string, probe: Probe) {
    this.probes.set(name, probe);
  }

  entries(): [string, Probe][] {
    return [...this.probes.entries()];
  }
}
