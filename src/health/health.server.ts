import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { createServer, Server } from 'node:http';
import { HealthService } from './health.service.js';

/**
 * Every role's bare HTTP server on HEALTH_PORT with /healthz, /readyz and /metrics, and
 * nothing else. /metrics is only here, never on the API's port: keep HEALTH_PORT off the
 * public network (it has no authentication).
 */
@Injectable()
export class HealthServer implements OnApplicationShutdown {
  private readonly logger = new Logger(HealthServer.name);
  private server?: Server;

  constructor(private readonly health: HealthService) {}

  async listen(port: number): Promise<number> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (status: number, type: string, body: string) => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      };
      const handle = async () => {
        if (req.method !== 'GET')
          return send(
            405,
            'application/json',
            JSON.stringify({ statusCode: 405, error: 'Method Not Allowed', message: 'only GET' }),
          );
        if (path === '/healthz') return send(200, 'application/json', JSON.stringify(this.health.liveness()));
        if (path === '/readyz') {
          const r = await this.health.readinessResponse();
          return send(r.status, 'application/json', JSON.stringify(r.body));
        }
        if (path === '/metrics') return send(200, this.health.metricsContentType, await this.health.metricsText());
        return send(
          404,
          'application/json',
          JSON.stringify({ statusCode: 404, error: 'Not Found', message: `no route ${path}` }),
        );
      };
      handle().catch((e: Error) => {
        this.logger.error(`${path}: ${e.message}`);
        send(
          500,
          'application/json',
          JSON.stringify({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' }),
        );
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '0.0.0.0', () => resolve());
    });
    const address = this.server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    this.logger.log(`health and metrics on :${bound}`);
    return bound;
  }

  async onApplicationShutdown() {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
