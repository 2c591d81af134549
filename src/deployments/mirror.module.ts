import { Module } from '@nestjs/common';
import { KubernetesModule } from '../kubernetes/kubernetes.module.js';
import { DomainModule } from '../domain/domain.module.js';
import { RequestsDataModule } from '../requests/requests-data.module.js';
import { WatcherStateModule } from '../watcher/watcher-state.module.js';
import { DeploymentsDataModule } from './deployments-data.module.js';
import { MirrorSyncService } from './mirror-sync.service.js';

/**
 * List-and-diff of the mirror, without any watch: the watcher builds on it, and the
 * reconciler imports it for its mirror-repair step (MirrorSyncService.resync()).
 */
@Module({
  imports: [DeploymentsDataModule, WatcherStateModule, KubernetesModule, DomainModule, RequestsDataModule],
  providers: [MirrorSyncService],
  exports: [MirrorSyncService, DeploymentsDataModule, WatcherStateModule, RequestsDataModule],
})
export class MirrorModule {}
