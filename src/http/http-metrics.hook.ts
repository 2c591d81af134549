import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { routeTemplate } from '../common/logging-http.js';
import type { MetricsService } from '../metrics/metrics.service.js';

/** The route label of a request that matched no route (404s, bodies refused before routing): never the raw path. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts and times every answer of the API, by method, route template and status: a Fastify
 * onResponse hook, so refused bodies (400, 413) and event streams written to the raw response
 * count too. The time is Fastify's, from the request's arrival to the end of the answer.
 */
export function httpMetricsHook(metrics: MetricsService) {
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const labels = {
      method: request.method,
      route: routeTemplate(request.raw) ?? UNMATCHED_ROUTE,
      status: String(reply.statusCode),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpRequestSeconds.observe(labels, reply.elapsedTime / 1000);
    done();
  };
}
