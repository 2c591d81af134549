import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeploymentRequestEntity } from './deployment-request.entity.js';
import { DomainModule } from '../domain/domain.module.js';
import { RequestsRepository } from './requests.repository.js';
import { RolloutReceipts } from './rollout-receipts.service.js';

/** Request persistence (and the domain's namespace policy, which every writer checks), shared by the api, worker, watcher (receipts) and reconciler roles. */
@Module({
  imports: [TypeOrmModule.forFeature([DeploymentRequestEntity]), DomainModule],
  providers: [RequestsRepository, RolloutReceipts],
  exports: [RequestsRepository, RolloutReceipts, DomainModule],
})
export class RequestsDataModule {}
