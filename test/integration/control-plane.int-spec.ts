import { deleteNamespace, eventually, kube, uniqueId } from '../support/harness.js';

// Proves the local control plane is real: a Deployment rolls out and its pods become Ready.
describe('local Kubernetes control plane', () => {
  const ns = `cp-${uniqueId()}`;
  const { apps, core } = kube();

  afterAll(() => deleteNamespace(ns));

  it('rolls a Deployment out to Available with Ready pods', async () => {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'probe' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'probe' } },
          template: {
            metadata: { labels: { app: 'probe' } },
            spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] },
          },
        },
      },
    });
    const d = await eventually(async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'probe' });
      const available = d.status?.conditions?.find((c) => c.type === 'Available');
      return available?.status === 'True' && d.status?.readyReplicas === 2 ? d : undefined;
    }, 60_000);
    expect(d.status?.availableReplicas).toBe(2);
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=probe' });
    expect(pods.items).toHaveLength(2);
    for (const p of pods.items) {
      expect(p.status?.phase).toBe('Running');
      expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
  });
});
