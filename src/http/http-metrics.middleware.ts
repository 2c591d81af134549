import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { MetricsService } from '../metrics/metrics.service.js';

/** The route label of a request that matched no route (404s, bodies refused before routing): never the raw path. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts and times every answer of the API, by method, route template and status. Express
 * middleware registered before the body parser, so refused bodies (400, 413) count too;
 * the route template is known once the router has matched, which is before the answer.
 */
export function httpMetricsMiddleware(metrics: MetricsService): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const labels = { method: req.method, route: routeTemplate(req), status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpRequestSeconds.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

function routeTemplate(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? req.baseUrl + path : UNMATCHED_ROUTE;
}
