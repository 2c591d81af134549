import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { KubernetesGateway, parseWarnings } from './kubernetes.gateway.js';

/** A fake apiserver that never answers, and notes each request and when its connection closed. */
async function silentServer() {
  const seen: { req: IncomingMessage; closed: Promise<unknown> }[] = [];
  const server: Server = createServer((req) => {
    seen.push({ req, closed: once(req.socket, 'close') });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'gateway-spec-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: u, user: {}}]',
      'contexts: [{name: c, context: {cluster: c, user: u}}]',
      'current-context: c',
    ].join('\n'),
  );
  return { server, seen, kubeconfig };
}

describe('KubernetesGateway timeouts', () => {
  let fake: Awaited<ReturnType<typeof silentServer>>;
  let gateway: KubernetesGateway;

  beforeAll(async () => {
    fake = await silentServer();
    gateway = new KubernetesGateway(
      {
        KUBECONFIG: fake.kubeconfig,
        KUBE_QPS: 100,
        KUBE_BURST: 100,
        KUBE_REQUEST_TIMEOUT_MS: 2000,
        KUBE_FIELD_MANAGER: 'test-manager',
      } as AppConfig,
      new MetricsService(),
    );
  });

  afterAll(async () => {
    await gateway.onApplicationShutdown();
    fake.server.closeAllConnections();
    await new Promise((r) => fake.server.close(r));
  });

  it('aborts a timed-out write: a retryable error, its connection closed, the apiserver told to give up too', async () => {
    const error = await gateway
      .applyDeployment({ metadata: { name: 'web', namespace: 'ns' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCode.KubernetesUnavailable, message: expect.stringMatching(/timed out/) });
    expect((error as DomainError).retryable).toBe(true);

    const call = fake.seen.at(-1)!;
    expect(call.req.method).toBe('PATCH');
    expect(new URL(call.req.url!, 'http://x').searchParams.get('timeout')).toBe('1s');
    // Resolves only when the client closed the socket: the request cannot be answered (and land) later.
    await call.closed;
  }, 15_000);

  it('aborts a timed-out read the same way, without the write-only server timeout', async () => {
    await expect(gateway.getDeployment('ns', 'web')).rejects.toMatchObject({
      code: ErrorCode.KubernetesUnavailable,
    });
    const call = fake.seen.at(-1)!;
    expect(call.req.method).toBe('GET');
    expect(new URL(call.req.url!, 'http://x').searchParams.has('timeout')).toBe(false);
    await call.closed;
  }, 15_000);
});

describe('parseWarnings', () => {
  it("reads the texts of the apiserver's Warning headers, joined by fetch with a comma", () => {
    expect(
      parseWarnings(
        '299 - "spec.template: a \\"quoted\\" word", 299 - "metadata.finalizers: prefer a domain-qualified name"',
      ),
    ).toEqual(['spec.template: a "quoted" word', 'metadata.finalizers: prefer a domain-qualified name']);
    expect(parseWarnings(undefined)).toEqual([]);
  });
});
