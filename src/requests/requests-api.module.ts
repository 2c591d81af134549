import { Module } from '@nestjs/common';
import {
  DeadLettersController,
  DeploymentWritesController,
  RequestsController,
} from './deployment-requests.controller.js';
import { MaxReplicasConstraint } from './dto/max-replicas.constraint.js';
import { DryRunsService } from './dry-runs.service.js';
import { OutboxRelay } from './outbox-relay.js';
import { EventsModule } from '../events/events.module.js';
import { RequestIntakeModule } from './request-intake.module.js';
import { RequestWaitService } from './request-wait.service.js';
import { DeploymentRevisionsController } from './revisions.controller.js';
import { RevisionsService } from './revisions.service.js';

/** Custom class-validator constraints that are providers, for class-validator's container. */
export const VALIDATOR_PROVIDERS = [MaxReplicasConstraint];

@Module({
  imports: [RequestIntakeModule, EventsModule],
  controllers: [DeploymentWritesController, RequestsController, DeadLettersController, DeploymentRevisionsController],
  providers: [OutboxRelay, MaxReplicasConstraint, RevisionsService, DryRunsService, RequestWaitService],
})
export class RequestsApiModule {}
