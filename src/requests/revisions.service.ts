import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { NamespacePolicy } from '../domain/namespace-policy.js';
import type { Principal } from '../domain/principal.js';
import { DeploymentRequestEntity, Operation, SpecMode } from './deployment-request.entity.js';
import { RequestsRepository } from './requests.repository.js';
import { assertWritable, RequestsService, Submitted } from './requests.service.js';
import { revisionsOf, RevisionHistory } from './revisions.js';

const noRevisions = (namespace: string, name: string) =>
  new DomainError(ErrorCode.DeploymentNotFound, `deployment ${namespace}/${name} has no revisions`);

/** Revisions are read from the request ledger (SUCCESS rows), never stored apart from it. */
@Injectable()
export class RevisionsService {
  constructor(
    private readonly repo: RequestsRepository,
    private readonly intake: RequestsService,
    private readonly namespaces: NamespacePolicy,
  ) {}

  /** Outside the caller's scope it is a 404 exactly like a deployment with no history. */
  async history(namespace: string, name: string, principal: Principal): Promise<RevisionHistory> {
    if (!principal.scope.covers(namespace)) throw noRevisions(namespace, name);
    const history = revisionsOf(await this.repo.successfulFor(namespace, name));
    if (!history.revisions.length) throw noRevisions(namespace, name);
    return history;
  }

  /**
   * Queues a REPLACE with revision N's whole spec, as a PUT would. Refused while a DELETE is
   * open or once the last line ended with one: the REPLACE would fail NotFound (a rollback
   * never recreates). A replay of the same Idempotency-Key skips that check, so a retried
   * call gets its original record whatever happened since.
   */
  async rollback(
    namespace: string,
    name: string,
    revision: number,
    idempotencyKey: string | undefined,
    principal: Principal,
  ): Promise<Submitted> {
    // The same refusals, in the same order, as any write: scope, then MANAGED_NAMESPACES.
    assertWritable(principal, namespace);
    this.namespaces.assertAllowed(namespace);
    const history = revisionsOf(await this.repo.successfulFor(namespace, name));
    const target = history.revisions.find((r) => r.revision === revision);
    if (!target) {
      throw new DomainError(
        ErrorCode.RevisionNotFound,
        `deployment ${namespace}/${name} has no revision ${revision}` +
          (history.revisions.length ? ` (revisions 1 to ${history.revisions.length})` : ''),
        { revisions: history.revisions.length },
      );
    }
    const replay =
      idempotencyKey !== undefined && (await this.repo.findByIdempotencyKey(principal.keyId, idempotencyKey));
    if (!replay) await this.assertNotDeleting(namespace, name, history.lines.at(-1)?.deletedBy ?? null);
    return this.intake.submit({
      operation: Operation.UPDATE,
      namespace,
      name,
      spec: { ...target.spec },
      specMode: SpecMode.REPLACE,
      idempotencyKey,
      requester: principal,
      rollbackOf: { revision, requestId: target.request.requestId },
    });
  }

  private async assertNotDeleting(namespace: string, name: string, deletedBy: DeploymentRequestEntity | null) {
    const open = await this.repo.openDeleteFor(namespace, name);
    const by = open ?? deletedBy;
    if (!by) return;
    throw new DomainError(
      ErrorCode.DeploymentBeingDeleted,
      open
        ? `deployment ${namespace}/${name} is being deleted by request "${open.requestId}" (${open.status}); a rollback would fail`
        : `deployment ${namespace}/${name} was deleted by request "${by.requestId}"; create it again instead of rolling back`,
      { deleteRequestId: by.requestId, deleteStatus: by.status },
    );
  }
}
