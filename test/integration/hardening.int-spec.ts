import { useSuite } from '../support/fixture.js';
import { http, uniqueId } from '../support/harness.js';

// The API's edges: helmet's headers (with a CSP that Swagger UI works under), CORS off unless
// CORS_ORIGINS names the origin, and no stack traces or internal messages in an error.
describe('hardened edges', () => {
  const ns = `hd-${uniqueId()}`;
  const suite = useSuite({ env: { ROLE: 'api', MANAGED_NAMESPACES: ns }, kubeProxy: true });

  const csp = (h: Headers) =>
    Object.fromEntries(
      (h.get('content-security-policy') ?? '')
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .filter((d) => d[0])
        .map(([name, ...values]) => [name, values]),
    );

  it('sends helmet security headers on API answers and errors, and no X-Powered-By', async () => {
    for (const r of [
      await http(suite.api, 'GET', `/v1/requests?namespace=${ns}`),
      await http(suite.api, 'POST', '/v1/deployments', '{"broken'),
    ]) {
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(r.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(csp(r.headers)['default-src']).toEqual(["'self'"]);
      expect(r.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('serves Swagger UI under its CSP: every script and style is its own file, from /docs', async () => {
    const docs = await fetch(`${suite.api}/docs`);
    expect(docs.status).toBe(200);
    const policy = csp(docs.headers);
    expect(policy['script-src']).toEqual(["'self'"]);
    // Plain-HTTP deployments would otherwise have every asset rewritten to https.
    expect(policy['upgrade-insecure-requests']).toBeUndefined();
    const html = await docs.text();
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    // Inline scripts would be blocked by script-src 'self'.
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/src=/);
      expect(body.trim()).toBe('');
    }
    const assets = [
      ...scripts.map(([, attrs]) => /src=["']([^"']+)["']/.exec(attrs)![1]),
      ...[...html.matchAll(/<link[^>]+href=["']([^"']+)["']/g)].map((m) => m[1]),
    ];
    for (const asset of assets) {
      const url = new URL(asset, `${suite.api}/docs`);
      expect(url.origin).toBe(suite.api);
      const r = await fetch(url);
      expect([asset, r.status]).toEqual([asset, 200]);
    }
    // "Try it out" fetches the document and calls the API on the same origin (connect-src via default-src 'self').
    const init = await (await fetch(`${suite.api}/docs/swagger-ui-init.js`)).text();
    expect(init).toContain('"openapi"');
  });

  it('answers no CORS headers while CORS_ORIGINS is empty', async () => {
    const preflight = await fetch(`${suite.api}/v1/deployments`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://ui.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const get = await http(suite.api, 'GET', `/v1/requests?namespace=${ns}`, undefined, {
      origin: 'https://ui.example.com',
    });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows exactly the origins CORS_ORIGINS names', async () => {
    const api = (await suite.extraApp({ CORS_ORIGINS: 'https://ui.example.com' })).apiUrl!;
    const preflight = (origin: string) =>
      fetch(`${api}/v1/deployments`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,idempotency-key',
        },
      });
    const allowed = await preflight('https://ui.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://ui.example.com');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect((await preflight('https://evil.example.com')).headers.get('access-control-allow-origin')).toBeNull();
    const get = await http(api, 'GET', `/v1/requests?namespace=${ns}`, undefined, { origin: 'https://ui.example.com' });
    expect(get.headers.get('access-control-allow-origin')).toBe('https://ui.example.com');
    expect(get.headers.get('access-control-expose-headers')).toContain('Retry-After');
  });

  it('answers an internal failure with a bare 500: no stack trace, no internal message', async () => {
    // The apiserver answers a strong read with a managed Deployment of an impossible shape (null
    // containers and conditions): mapping it throws a TypeError deep inside the service.
    suite.kubeProxy.inject({
      method: 'GET',
      path: new RegExp(`/namespaces/${ns}/deployments/web`),
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'k8s-deployment-manager' } },
        spec: { replicas: 1, template: { spec: { containers: [null] } } },
        status: { conditions: [null] },
      }),
    });
    const r = await http(suite.api, 'GET', `/v1/deployments/${ns}/web?consistency=strong`);
    expect(r.status).toBe(500);
    const text = JSON.stringify(r.body);
    expect(text).not.toMatch(/\bat .+\.(js|ts):\d+/);
    expect(text).not.toMatch(/stack|node_modules|dist\/src|Cannot read|null|TypeError/i);
    if (r.status === 500)
      expect(r.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  });
});
