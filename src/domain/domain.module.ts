import { Module } from '@nestjs/common';
import { NamespacePolicy } from './namespace-policy.js';

/** The domain's one provider: the namespace policy (it reads MANAGED_NAMESPACES from the config). */
@Module({ providers: [NamespacePolicy], exports: [NamespacePolicy] })
export class DomainModule {}
