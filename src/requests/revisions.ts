import { mergeSpec, type DeploymentSpec } from '../domain/deployment-spec.js';
import { DeploymentRequestEntity, Operation, SpecMode } from './deployment-request.entity.js';

/** The effective desired spec after one successful change, and the request that made it. */
export interface Revision {
  /** 1, 2, 3… over the deployment's whole history, across lines. */
  revision: number;
  /** Which life of the deployment: a CREATE starts a new line, a DELETE ends one. */
  line: number;
  spec: DeploymentSpec;
  request: DeploymentRequestEntity;
}

/** One life of the deployment: from the CREATE to the DELETE that ended it (null while it lives). */
export interface Line {
  line: number;
  fromRevision: number;
  toRevision: number;
  deletedBy: DeploymentRequestEntity | null;
}

export interface RevisionHistory {
  revisions: Revision[];
  lines: Line[];
  /** The revision in effect now; null when the last line ended with a DELETE. */
  current: number | null;
}

/**
 * Folds a deployment's SUCCESS requests (in acceptance order, which for one deployment is
 * also the order they were applied in) into revisions: a CREATE or PUT gives the whole spec,
 * a PATCH is merged over the revision before it, as the reconciler works out desired state.
 * A PATCH with nothing before it (its CREATE is not in the ledger) is left out: its full
 * spec was never known here.
 */
export function revisionsOf(successes: Iterable<DeploymentRequestEntity>): RevisionHistory {
  const revisions: Revision[] = [];
  const lines: Line[] = [];
  // The line still alive (not ended by a DELETE), and its latest spec.
  const live: { line: Line | null; spec: DeploymentSpec | null } = { line: null, spec: null };
  const add = (request: DeploymentRequestEntity, spec: DeploymentSpec) => {
    const revision = revisions.length + 1;
    const line = live.line ?? { line: lines.length + 1, fromRevision: revision, toRevision: revision, deletedBy: null };
    if (!live.line) lines.push(line);
    line.toRevision = revision;
    live.line = line;
    live.spec = spec;
    revisions.push({ revision, line: line.line, spec, request });
  };
  for (const r of successes) {
    if (r.operation === Operation.DELETE) {
      if (live.line) live.line.deletedBy = r;
      live.line = null;
      live.spec = null;
    } else if (r.operation === Operation.CREATE) {
      live.line = null; // a CREATE always starts a line, even over one whose DELETE is missing
      add(r, r.spec as DeploymentSpec);
    } else if (r.specMode === SpecMode.REPLACE) {
      add(r, r.spec as DeploymentSpec);
    } else if (live.spec) {
      add(r, mergeSpec(live.spec, r.spec ?? {}));
    }
  }
  return { revisions, lines, current: live.line ? revisions.length : null };
}
