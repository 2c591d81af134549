import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ACCESS_METADATA } from '../auth/access.decorator.js';

/** What the audit trail needs to know about the route a call reached, whether it is answered or refused. */
export interface RouteFacts {
  /** `<controller>.<handler>`, e.g. `deploymentWrites.create`. */
  action: string;
  /** No @Access/@Public (admin-only by default) or @Access('admin'). */
  adminOnly: boolean;
}

const ROUTE_FACTS = Symbol('k8sdm.routeFacts');

/**
 * Notes the route's facts on the request. The rate-limit guard calls it first thing: it runs
 * before anything that refuses a call (the authentication guard only resolves the key), so the
 * exception filter knows the route of a 401, 403 or 429 too.
 */
export function noteRouteFacts(context: ExecutionContext, reflector: Reflector): RouteFacts {
  const req = context.switchToHttp().getRequest<FastifyRequest & { [ROUTE_FACTS]?: RouteFacts }>();
  if (req[ROUTE_FACTS]) return req[ROUTE_FACTS];
  const access = reflector.getAllAndOverride<string | undefined>(ACCESS_METADATA, [
    context.getHandler(),
    context.getClass(),
  ]);
  const controller = context.getClass().name.replace(/Controller$/, '');
  const facts: RouteFacts = {
    action: `${controller.charAt(0).toLowerCase()}${controller.slice(1)}.${context.getHandler().name}`,
    adminOnly: access === undefined || access === 'admin',
  };
  req[ROUTE_FACTS] = facts;
  return facts;
}

/** The facts noted for this request, if a route was reached. */
export function routeFactsOf(req: FastifyRequest): RouteFacts | undefined {
  return (req as FastifyRequest & { [ROUTE_FACTS]?: RouteFacts })[ROUTE_FACTS];
}

/** Writes the audit entry of a call (when the call is one that is audited) before its answer is sent. */
export interface CallAuditor {
  /** Resolves once the entry is written or found not needed; never rejects (a failure is logged). */
  recordCall(req: FastifyRequest, statusCode: number, outcome?: { body?: unknown; errorCode?: string }): Promise<void>;
}
