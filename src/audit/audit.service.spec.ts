import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { Access } from '../auth/access.decorator.js';
import { NamespaceScope } from '../domain/principal.js';
import { noteRouteTemplate } from '../common/logging-http.js';
import { noteRouteFacts } from '../http/call-context.js';
import type { AuditRepository } from './audit.repository.js';
import { AuditService } from './audit.service.js';

class DeploymentWritesController {
  @Access('writer') create() {}
}
class RequestsController {
  @Access('reader') list() {}
}
class AuditController {
  @Access('admin') list() {}
}

type Call = Partial<Omit<FastifyRequest, 'raw'>> & { route?: string };

/** A request as Fastify hands it over; `route`: the template noted once its body was accepted. */
function request({ route, ...req }: Call): FastifyRequest {
  const raw = {} as IncomingMessage;
  if (route) noteRouteTemplate(raw, route);
  return { method: 'GET', params: {}, ip: '10.0.0.9', ...req, raw } as FastifyRequest;
}

/** A request that reached `handler` of `controller`, as the guard notes it. */
function reached(controller: new () => object, handler: string, req: Call): FastifyRequest {
  const r = request(req);
  const context = {
    switchToHttp: () => ({ getRequest: () => r }),
    getHandler: () => (controller.prototype as Record<string, unknown>)[handler],
    getClass: () => controller,
  } as unknown as ExecutionContext;
  noteRouteFacts(context, new Reflector());
  return r;
}

describe('AuditService: which calls are audited, and what an entry holds', () => {
  const audit = new AuditService({} as AuditRepository);

  it('audits every non-GET under /v1, with target, requestId, caller and address', () => {
    const req = reached(DeploymentWritesController, 'create', {
      method: 'POST',
      url: '/v1/deployments',
      route: '/v1/deployments',
      body: { namespace: 'team-a', name: 'web' },
    });
    (req as FastifyRequest & { principal: unknown }).principal = {
      keyId: 'k-1',
      keyName: 'ci',
      role: 'writer',
      scope: NamespaceScope.ALL,
    };
    expect(audit.entryFor(req, 202, { body: { requestId: 'r-1', namespace: 'team-a', name: 'web' } })).toEqual({
      actorKeyId: 'k-1',
      actorName: 'ci',
      method: 'POST',
      route: '/v1/deployments',
      action: 'deploymentWrites.create',
      namespace: 'team-a',
      name: 'web',
      statusCode: 202,
      errorCode: null,
      requestId: 'r-1',
      sourceIp: '10.0.0.9',
      details: null,
    });
  });

  it('audits GETs of admin-only routes, and 401/403/429 on any route; not other reads', () => {
    const read = () => reached(RequestsController, 'list', { url: '/v1/requests?x=1', route: '/v1/requests' });
    expect(audit.entryFor(read(), 200)).toBeUndefined();
    expect(audit.entryFor(read(), 404)).toBeUndefined();
    for (const status of [401, 403, 429])
      expect(audit.entryFor(read(), status, { errorCode: 'X' })).toMatchObject({
        statusCode: status,
        action: 'requests.list',
        actorKeyId: null,
      });
    const admin = reached(AuditController, 'list', { url: '/v1/audit', route: '/v1/audit' });
    expect(audit.entryFor(admin, 200)).toMatchObject({ action: 'audit.list', statusCode: 200 });
  });

  it('audits unmatched writes under /v1 by their path, and nothing outside /v1', () => {
    const unmatched = request({ method: 'POST', url: '/v1/nowhere' });
    expect(audit.entryFor(unmatched, 404)).toMatchObject({ route: '/v1/nowhere', action: 'unmatched' });
    const outside = request({ method: 'POST', url: '/healthz' });
    expect(audit.entryFor(outside, 404)).toBeUndefined();
  });
});
