import { Module, OnModuleInit } from '@nestjs/common';
import { KubernetesModule } from '../kubernetes/kubernetes.module.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { NatsClient } from '../messaging/nats-client.js';
import { RequestsDataModule } from '../requests/requests-data.module.js';
import { ReadinessRegistry } from '../health/readiness.registry.js';
import { DeploymentApplier } from './deployment-applier.js';
import { RequestMessageHandler } from './request-message.handler.js';
import { RequestProcessor } from './request-processor.js';

@Module({
  imports: [RequestsDataModule, KubernetesModule, MessagingModule],
  controllers: [RequestMessageHandler],
  providers: [DeploymentApplier, RequestProcessor],
})
export class WorkerModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly nats: NatsClient,
  ) {}

  onModuleInit() {
    this.readiness.register('nats', () => ({ state: this.nats.isReady ? 'up' : 'down' }));
  }
}
