import { Module } from '@nestjs/common';
import { MessagingModule } from '../messaging/messaging.module.js';
import { RequestsDataModule } from './requests-data.module.js';
import { RequestMetricsModule } from './request-metrics.module.js';
import { QueuedMarker } from './queued-marker.js';
import { RequestQueue } from './request-queue.js';
import { RequestsService } from './requests.service.js';

/** Recording and queueing requests: used by the API, and by the reconciler when it self-heals. */
@Module({
  imports: [RequestsDataModule, RequestMetricsModule, MessagingModule],
  providers: [RequestsService, RequestQueue, QueuedMarker],
  exports: [RequestsService, RequestQueue, RequestsDataModule, MessagingModule],
})
export class RequestIntakeModule {}
