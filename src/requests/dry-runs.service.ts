import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { NamespacePolicy } from '../domain/namespace-policy.js';
import type { Principal } from '../domain/principal.js';
import type { DryRunOutcome } from '../domain/spec-diff.js';
import { NatsClient } from '../messaging/nats-client.js';
import { dryRunSubject, type DryRunMessage } from './dry-run-subject.js';
import { assertWritable } from './requests.service.js';

/**
 * The API's side of `?dryRun=true`: the same refusals as intake (scope, MANAGED_NAMESPACES),
 * then a worker runs the write with dryRun=All and answers. The API itself has get-only
 * RBAC, and Kubernetes cannot tell a dry-run write from a real one, so it asks a worker.
 * Nothing is recorded and nothing is queued.
 */
@Injectable()
export class DryRunsService {
  constructor(
    private readonly config: AppConfig,
    private readonly nats: NatsClient,
    private readonly namespaces: NamespacePolicy,
  ) {}

  async run(msg: DryRunMessage, principal: Principal): Promise<DryRunOutcome> {
    assertWritable(principal, msg.namespace);
    this.namespaces.assertAllowed(msg.namespace);
    // A read, the namespace check and the write, each bounded by KUBE_REQUEST_TIMEOUT_MS on the worker.
    const timeoutMs = 3 * this.config.KUBE_REQUEST_TIMEOUT_MS + 1_000;
    try {
      return await this.nats.request<DryRunOutcome>(dryRunSubject(this.config), msg, timeoutMs);
    } catch (e) {
      if (!(e instanceof DomainError) || e.details?.noAnswer !== true) throw e;
      throw new DomainError(
        ErrorCode.DependencyUnavailable,
        /no responders/i.test(e.message)
          ? 'no worker answered: is a process with ROLE=worker running?'
          : `no worker answered within ${timeoutMs} ms`,
      );
    }
  }
}
