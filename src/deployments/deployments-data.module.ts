import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeploymentEntity } from './deployment.entity.js';
import { DeploymentsRepository } from './deployments.repository.js';
import { WatcherStateEntity } from './watcher-state.entity.js';
import { WatcherStateRepository } from './watcher-state.repository.js';

/** The mirror's persistence: read by the api role, written by the watcher and the reconciler's repair. */
@Module({
  imports: [TypeOrmModule.forFeature([DeploymentEntity, WatcherStateEntity])],
  providers: [DeploymentsRepository, WatcherStateRepository],
  exports: [DeploymentsRepository, WatcherStateRepository],
})
export class DeploymentsDataModule {}
