import { Module } from '@nestjs/common';
import { DeploymentsDataModule } from '../deployments/deployments-data.module.js';
import { KubernetesModule } from '../kubernetes/kubernetes.module.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { RequestsDataModule } from '../requests/requests-data.module.js';
import { RequestMetricsModule } from '../requests/request-metrics.module.js';
import { DeploymentApplier } from './deployment-applier.js';
import { DryRunController } from './dry-run.controller.js';
import { DryRunService } from './dry-run.service.js';
import { RequestMessageHandler } from './request-message.handler.js';
import { RequestProcessor } from './request-processor.js';

@Module({
  imports: [RequestsDataModule, RequestMetricsModule, KubernetesModule, MessagingModule, DeploymentsDataModule],
  controllers: [RequestMessageHandler, DryRunController],
  providers: [DeploymentApplier, RequestProcessor, DryRunService],
})
export class WorkerModule {}
