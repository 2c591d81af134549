import { Module } from '@nestjs/common';
import { KubernetesModule } from '../kubernetes/kubernetes.module.js';
import { DomainModule } from '../domain/domain.module.js';
import { RequestsDataModule } from '../requests/requests-data.module.js';
import { WatcherStateModule } from '../watcher/watcher-state.module.js';
import { DeploymentsDataModule } from './deployments-data.module.js';
import { DeploymentsController } from './deployments.controller.js';
import { DeploymentsService } from './deployments.service.js';

/** GET /v1/deployments…: the api role's reads of the mirror, and strong reads from Kubernetes. */
@Module({
  imports: [DeploymentsDataModule, WatcherStateModule, RequestsDataModule, DomainModule, KubernetesModule],
  controllers: [DeploymentsController],
  providers: [DeploymentsService],
})
export class DeploymentsApiModule {}
