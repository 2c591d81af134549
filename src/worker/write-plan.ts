import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { mergeSpec, type DeploymentSpec, type DeploymentSpecPatch } from '../domain/deployment-spec.js';
import type { DeploymentObject } from '../kubernetes/kubernetes.gateway.js';
import { buildDeploymentManifest, envReferencesOf, isManaged, specFromDeployment } from '../kubernetes/manifest.js';
import { Operation, SpecMode } from '../requests/deployment-request.entity.js';

/** What a write asks for: a request record, or a dry run of one. */
export interface WriteIntent {
  operation: Operation;
  specMode: SpecMode;
  namespace: string;
  name: string;
  spec: DeploymentSpecPatch | null;
  /** Stamped on the object (annotation); a dry run's never lands. */
  requestId: string;
}

/** The one write a request makes on what was read, or nothing. */
export type WritePlan =
  /** Nothing by that name: a plain create, which fails if something appears meanwhile. */
  | { kind: 'create'; manifest: DeploymentObject }
  /** Ours: a server-side apply conditional on the read's resourceVersion. */
  | { kind: 'apply'; manifest: DeploymentObject; live: DeploymentObject }
  /** Ours: a delete conditional on the read's uid and resourceVersion. */
  | { kind: 'delete'; live: DeploymentObject }
  /** A DELETE of what is already gone. */
  | { kind: 'none' };

/**
 * Decides the write for an intent on the object just read, or throws the refusal. The real
 * apply (deployment-applier.ts) and the dry run (dry-run.service.ts) both start here, so
 * they cannot disagree about ownership or about what would be written.
 */
export function planWrite(intent: WriteIntent, current: DeploymentObject | null): WritePlan {
  switch (intent.operation) {
    case Operation.CREATE:
      // Ours already (a redelivery, or our earlier call that landed): apply on top of it.
      if (current && !isManaged(current)) {
        throw new DomainError(
          ErrorCode.Conflict,
          `deployment ${target(intent)} already exists and is not managed by k8s-deployment-manager`,
        );
      }
      return current
        ? { kind: 'apply', manifest: manifest(intent, intent.spec as DeploymentSpec, current), live: current }
        : { kind: 'create', manifest: manifest(intent, intent.spec as DeploymentSpec, null) };
    case Operation.UPDATE: {
      const live = managed(intent, current);
      if (intent.specMode !== SpecMode.MERGE)
        return { kind: 'apply', manifest: manifest(intent, intent.spec as DeploymentSpec, live), live };
      // The named fields merged over what Kubernetes has; a patch that names env replaces it whole,
      // otherwise env references (valueFrom) stay as they are.
      const patch = intent.spec ?? {};
      const spec = mergeSpec(specFromDeployment(live), patch);
      const references = patch.env === undefined ? envReferencesOf(live) : [];
      return { kind: 'apply', manifest: manifest(intent, spec, live, references), live };
    }
    case Operation.DELETE:
      if (!current) return { kind: 'none' };
      if (!isManaged(current)) throw notOurs(intent);
      return { kind: 'delete', live: current };
  }
}

/** A create into a namespace that does not exist, with CREATE_NAMESPACES off. */
export const namespaceMissing = (namespace: string) =>
  new DomainError(ErrorCode.NamespaceNotFound, `namespace "${namespace}" does not exist and CREATE_NAMESPACES is off`);

function manifest(
  intent: WriteIntent,
  spec: DeploymentSpec,
  live: DeploymentObject | null,
  references: ReturnType<typeof envReferencesOf> = [],
): DeploymentObject {
  return buildDeploymentManifest(
    intent.namespace,
    intent.name,
    spec,
    intent.requestId,
    live?.metadata?.resourceVersion,
    references,
  );
}

function managed(intent: WriteIntent, current: DeploymentObject | null): DeploymentObject {
  if (!current) throw new DomainError(ErrorCode.NotFound, `deployment ${target(intent)} does not exist`);
  if (!isManaged(current)) throw notOurs(intent);
  return current;
}

const notOurs = (intent: WriteIntent) =>
  new DomainError(ErrorCode.Forbidden, `deployment ${target(intent)} is not managed by k8s-deployment-manager`);
const target = (i: WriteIntent) => `${i.namespace}/${i.name}`;
