import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeploymentRequestEntity } from './deployment-request.entity.js';
import { NamespacePolicy } from '../domain/namespace-policy.js';
import { RequestsRepository } from './requests.repository.js';

/** Request persistence and the namespace policy, shared by the api, worker and reconciler roles. */
@Module({
  imports: [TypeOrmModule.forFeature([DeploymentRequestEntity])],
  providers: [RequestsRepository, NamespacePolicy],
  exports: [RequestsRepository, NamespacePolicy],
})
export class RequestsDataModule {}
