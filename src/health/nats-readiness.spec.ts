import { natsDownState, parseRoles } from '../config/roles.js';
import { registerNatsProbe } from './nats-readiness.js';
import { ReadinessRegistry } from './readiness.registry.js';

/** The registry as the process would have it: one probe per name, registered as bootstrap does. */
async function natsProbes(role: string, isReady: boolean) {
  const registry = new ReadinessRegistry();
  const whenDown = natsDownState(parseRoles(role));
  if (whenDown) registerNatsProbe(registry, { isReady }, whenDown);
  const probes = registry.entries().filter(([name]) => name === 'nats');
  return Promise.all(probes.map(async ([, probe]) => (await probe()).state));
}

describe('the nats readiness probe', () => {
  it('ROLE=all keeps the outbox meaning: NATS down degrades, it does not take the API out', async () => {
    expect(await natsProbes('all', false)).toEqual(['degraded']);
    expect(await natsProbes('all', true)).toEqual(['up']);
  });

  it('a process with the API (alone or with a worker) is degraded, a worker alone is down', async () => {
    expect(await natsProbes('api', false)).toEqual(['degraded']);
    expect(await natsProbes('api,worker', false)).toEqual(['degraded']);
    expect(await natsProbes('worker', false)).toEqual(['down']);
    expect(await natsProbes('worker', true)).toEqual(['up']);
  });

  it('roles that do not depend on NATS register no nats probe', async () => {
    expect(await natsProbes('watcher', false)).toEqual([]);
    expect(await natsProbes('reconciler', false)).toEqual([]);
  });
});
