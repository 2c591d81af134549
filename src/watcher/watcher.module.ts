import { Module, OnModuleInit } from '@nestjs/common';
import { MirrorModule } from '../deployments/mirror.module.js';
import { ReadinessRegistry } from '../health/readiness.registry.js';
import { KubernetesModule } from '../kubernetes/kubernetes.module.js';
import { DeploymentWatcher } from './deployment-watcher.service.js';
import { LeaderElection } from './leader-election.service.js';
import { LeaderLockRepository } from './leader-lock.repository.js';

/** The watcher role: keeps the deployments mirror true to Kubernetes, one leader at a time. */
@Module({
  imports: [MirrorModule, KubernetesModule],
  providers: [DeploymentWatcher, LeaderElection, LeaderLockRepository],
  exports: [DeploymentWatcher, LeaderElection],
})
export class WatcherModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly watcher: DeploymentWatcher,
  ) {}

  onModuleInit() {
    this.readiness.register('watcher', () => this.watcher.readiness());
  }
}
