import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeploymentEntity } from './deployment.entity.js';
import { DeploymentsRepository } from './deployments.repository.js';

/** The mirror's persistence: read by the api role, written by the watcher and the reconciler's repair. */
@Module({
  imports: [TypeOrmModule.forFeature([DeploymentEntity])],
  providers: [DeploymentsRepository],
  exports: [DeploymentsRepository],
})
export class DeploymentsDataModule {}
