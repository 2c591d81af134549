import { InitialSchema1764300000000 } from './1764300000000-initial-schema.js';
import { ReconcileRuns1764300100000 } from './1764300100000-reconcile-runs.js';
import { WatcherState1764300200000 } from './1764300200000-watcher-state.js';
import { MirrorOwnershipAndCluster1764300210000 } from './1764300210000-mirror-ownership-and-cluster.js';
import { RequestRetryAt1764300300000 } from './1764300300000-request-retry-at.js';
import { ApiKeys1764400100000 } from './1764400100000-api-keys.js';
import { RequestPrincipalAndScope1764400200000 } from './1764400200000-request-principal-and-scope.js';
import { AuditLog1764400300000 } from './1764400300000-audit-log.js';
import { RateLimitWindows1764400310000 } from './1764400310000-rate-limit-windows.js';
import { RequestCorrelationId1764400500000 } from './1764400500000-request-correlation-id.js';
import { RequestRollbackOf1764400600000 } from './1764400600000-request-rollback-of.js';
import { DriftAttribution1764400700000 } from './1764400700000-drift-attribution.js';
import { RequestRollout1764400800000 } from './1764400800000-request-rollout.js';
import { OpenReceiptsIndex1764400810000 } from './1764400810000-open-receipts-index.js';
import { Events1764400900000 } from './1764400900000-events.js';

/** Every migration, in order. Listed explicitly so the compiled ESM build needs no glob loading. */
export const MIGRATIONS = [
  InitialSchema1764300000000,
  ReconcileRuns1764300100000,
  WatcherState1764300200000,
  MirrorOwnershipAndCluster1764300210000,
  RequestRetryAt1764300300000,
  ApiKeys1764400100000,
  RequestPrincipalAndScope1764400200000,
  AuditLog1764400300000,
  RateLimitWindows1764400310000,
  RequestCorrelationId1764400500000,
  RequestRollbackOf1764400600000,
  DriftAttribution1764400700000,
  RequestRollout1764400800000,
  OpenReceiptsIndex1764400810000,
  Events1764400900000,
];
