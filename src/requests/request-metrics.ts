import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { RequestStatus } from './deployment-request.entity.js';
import { RequestsRepository } from './requests.repository.js';

/**
 * Feeds the request gauges (by status, the outbox backlog and its oldest CREATED age) from
 * PostgreSQL at scrape time, in every role that keeps request records. Every status is
 * reported, 0 when no request has it, so an alert on one status never sees a gap.
 */
@Injectable()
export class RequestMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly repo: RequestsRepository,
  ) {}

  onModuleInit() {
    this.metrics.registerScrapeSource('requests', async () => {
      const stats = await this.repo.statusCounts();
      const counts = new Map(stats.byStatus.map((s) => [s.status, s.count]));
      return {
        byStatus: Object.values(RequestStatus).map((status) => ({ status, count: counts.get(status) ?? 0 })),
        oldestCreatedAgeSeconds: stats.oldestCreatedAgeSeconds,
      };
    });
  }
}
