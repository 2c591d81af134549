import { Module } from '@nestjs/common';
import { KubernetesGateway } from './kubernetes.gateway.js';

/** The only module that touches @kubernetes/client-node. */
@Module({ providers: [KubernetesGateway], exports: [KubernetesGateway] })
export class KubernetesModule {}
