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
  /** Nothing by that name: a create, which fails if something appears meanwhile. */
  | { kind: 'create'; manifest: DeploymentObject }
  /** Ours: a server-side apply conditional on the read's uid and resourceVersion. */
  | { kind: 'apply'; manifest: DeploymentObject; live: DeploymentObject }
  /** Ours: a delete conditional on the read's uid and resourceVersion. */
  | { kind: 'delete'; live: DeploymentObject }
  /** A DELETE of what is already gone. */
  | { kind: 'none' };

/**
 * What we know of one of our Deployments without reading it: the mirror's row, or what our
 * own last write returned. Only a Deployment we manage is ever known this way.
 */
export interface KnownDeployment {
  uid: string;
  resourceVersion: string;
  generation: number | null;
  /** Its managed fields at that resourceVersion; null when a merge cannot start from them (env from references). */
  spec: DeploymentSpec | null;
}

/** The write an UPDATE or DELETE makes on what we know, without a read; the same preconditions as WritePlan's. */
export type KnownWritePlan = { kind: 'apply'; manifest: DeploymentObject } | { kind: 'delete'; known: KnownDeployment };

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
        ? {
            kind: 'apply',
            manifest: manifest(intent, intent.spec as DeploymentSpec, preconditionsOf(current)),
            live: current,
          }
        : { kind: 'create', manifest: manifest(intent, intent.spec as DeploymentSpec) };
    case Operation.UPDATE: {
      const live = managed(intent, current);
      const base = () => ({ spec: specFromDeployment(live), references: envReferencesOf(live) });
      return { kind: 'apply', manifest: updateManifest(intent, preconditionsOf(live), base), live };
    }
    case Operation.DELETE:
      if (!current) return { kind: 'none' };
      if (!isManaged(current)) throw notOurs(intent);
      return { kind: 'delete', live: current };
  }
}

/**
 * The write for an UPDATE or DELETE on a Deployment we know to be ours at known.resourceVersion,
 * or null when only a read can decide (a MERGE whose base is not known). Its preconditions make
 * it land only on exactly that object, unchanged since: anything else answers 409, and the
 * caller falls back to planWrite on a fresh read.
 */
export function planKnownWrite(intent: WriteIntent, known: KnownDeployment): KnownWritePlan | null {
  switch (intent.operation) {
    case Operation.CREATE:
      return null;
    case Operation.UPDATE: {
      const { spec } = known;
      if (intent.specMode === SpecMode.MERGE && !spec) return null;
      const base = () => ({ spec: spec as DeploymentSpec, references: [] });
      return { kind: 'apply', manifest: updateManifest(intent, known, base) };
    }
    case Operation.DELETE:
      return { kind: 'delete', known };
  }
}

/** A create into a namespace that does not exist, with CREATE_NAMESPACES off. */
export const namespaceMissing = (namespace: string) =>
  new DomainError(ErrorCode.NamespaceNotFound, `namespace "${namespace}" does not exist and CREATE_NAMESPACES is off`);

type EnvReferences = ReturnType<typeof envReferencesOf>;

/** The object a conditional write must find: this one (uid), unchanged since (resourceVersion). */
interface Preconditions {
  uid?: string;
  resourceVersion?: string;
}

const preconditionsOf = (d: DeploymentObject): Preconditions => ({
  uid: d.metadata?.uid,
  resourceVersion: d.metadata?.resourceVersion,
});

/**
 * An UPDATE's manifest: REPLACE applies the request's spec; MERGE merges the named fields over
 * the current ones (a patch that names env replaces it whole, otherwise env references
 * (valueFrom) stay as they are).
 */
function updateManifest(
  intent: WriteIntent,
  at: Preconditions,
  current: () => { spec: DeploymentSpec; references: EnvReferences },
): DeploymentObject {
  if (intent.specMode !== SpecMode.MERGE) return manifest(intent, intent.spec as DeploymentSpec, at);
  const patch = intent.spec ?? {};
  const { spec, references } = current();
  return manifest(intent, mergeSpec(spec, patch), at, patch.env === undefined ? references : []);
}

/**
 * With a resourceVersion a server-side apply fails on any other version of the object, but
 * still creates one that is gone: the uid makes that fail too (409 "uid mismatch").
 */
function manifest(
  intent: WriteIntent,
  spec: DeploymentSpec,
  at: Preconditions = {},
  references: EnvReferences = [],
): DeploymentObject {
  const m = buildDeploymentManifest(
    intent.namespace,
    intent.name,
    spec,
    intent.requestId,
    at.resourceVersion,
    references,
  );
  return at.uid ? { ...m, metadata: { ...m.metadata, uid: at.uid } } : m;
}

function managed(intent: WriteIntent, current: DeploymentObject | null): DeploymentObject {
  if (!current) throw new DomainError(ErrorCode.NotFound, `deployment ${target(intent)} does not exist`);
  if (!isManaged(current)) throw notOurs(intent);
  return current;
}

const notOurs = (intent: WriteIntent) =>
  new DomainError(ErrorCode.Forbidden, `deployment ${target(intent)} is not managed by k8s-deployment-manager`);
const target = (i: WriteIntent) => `${i.namespace}/${i.name}`;
