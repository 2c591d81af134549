import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { ShutdownSignal } from '../common/shutdown.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ReadinessRegistry } from './readiness.registry.js';

@Injectable()
export class HealthService {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly registry: ReadinessRegistry,
    private readonly metrics: MetricsService,
    private readonly shutdown: ShutdownSignal,
  ) {}

  liveness() {
    return { status: 'ok' };
  }

  /** Throws ServiceUnavailableException (503) carrying the result when something is down. */
  readiness(): Promise<HealthCheckResult> {
    return this.health.check([
      // First to fail on SIGTERM: load balancers stop sending before the listener closes.
      () => {
        const session = this.indicators.check('shutdown');
        return this.shutdown.requested ? session.down({ message: 'shutting down' }) : session.up();
      },
      () => this.db.pingCheck('database', { timeout: 2000 }),
      ...this.registry.entries().map(([name, probe]) => async () => {
        const session = this.indicators.check(name);
        try {
          const r = await probe();
          return r.state === 'up'
            ? session.up(r.data)
            : r.state === 'degraded'
              ? session.degraded(r.data)
              : session.down(r.data);
        } catch (e) {
          return session.down({ message: (e as Error).message });
        }
      }),
    ]);
  }

  /** The readiness result and HTTP status, for servers that are not Nest controllers. */
  async readinessResponse(): Promise<{ status: number; body: unknown }> {
    try {
      return { status: 200, body: await this.readiness() };
    } catch (e) {
      if (e instanceof ServiceUnavailableException) return { status: 503, body: e.getResponse() };
      throw e;
    }
  }

  metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }

  get metricsContentType(): string {
    return this.metrics.registry.contentType;
  }
}
