import { Module } from '@nestjs/common';
import {
  DeadLettersController,
  DeploymentWritesController,
  RequestsController,
} from './deployment-requests.controller.js';
import { MaxReplicasConstraint } from './dto/max-replicas.constraint.js';
import { OutboxRelay } from './outbox-relay.js';
import { RequestIntakeModule } from './request-intake.module.js';

/** Custom class-validator constraints that are providers, for class-validator's container. */
export const VALIDATOR_PROVIDERS = [MaxReplicasConstraint];

@Module({
  imports: [RequestIntakeModule],
  controllers: [DeploymentWritesController, RequestsController, DeadLettersController],
  providers: [OutboxRelay, MaxReplicasConstraint],
})
export class RequestsApiModule {}
