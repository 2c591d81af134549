import { Module } from '@nestjs/common';
import { RequestMetrics } from './request-metrics.js';
import { RequestsDataModule } from './requests-data.module.js';

/**
 * The request gauges, for the roles that keep request records (api, worker, reconciler). Apart
 * from the data module, because the watcher reads requests too (to move receipts) but must not
 * report these gauges: every role scraped would report the same numbers.
 */
@Module({
  imports: [RequestsDataModule],
  providers: [RequestMetrics],
})
export class RequestMetricsModule {}
