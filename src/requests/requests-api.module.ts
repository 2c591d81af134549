import { Module, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '../health/readiness.registry.js';
import { NatsClient } from '../messaging/nats-client.js';
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
export class RequestsApiModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly nats: NatsClient,
  ) {}

  /** NATS down does not stop intake (the outbox keeps requests), so it only degrades the API. */
  onModuleInit() {
    this.readiness.register('nats', () => ({ state: this.nats.isReady ? 'up' : 'degraded' }));
  }
}
