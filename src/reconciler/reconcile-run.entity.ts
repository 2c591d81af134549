import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../database/column-transformers.js';

export enum ReconcileTrigger {
  CRON = 'cron',
  MANUAL = 'manual',
  ONCE = 'once',
}

export enum ReconcileStatus {
  PENDING = 'PENDING',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
}

export interface ReconcileCounts {
  inserted: number;
  updated: number;
  markedDeleted: number;
  republished: number;
  requeued: number;
  failed: number;
  drifted: number;
  healed: number;
}

export interface ReconcileDetails {
  drifted?: { namespace: string; name: string; fields: string[] }[];
  healRequests?: string[];
  /** Drifted fields another field manager owns now (an HPA, kubectl scale): reported, never healed. */
  ownedDrift?: { namespace: string; name: string; field: string; manager: string }[];
  /** Fields that differ but a manager in MANAGED_ELSEWHERE_FIELD_MANAGERS owns (an HPA): not drift, never healed. */
  managedElsewhere?: { namespace: string; name: string; field: string; manager: string }[];
  /** Deployments not judged this pass: a request is open, or completed after the pass began. */
  skipped?: { namespace: string; name: string; reason: string }[];
  /** Why SELF_HEAL healed nothing this pass (the mirror repair failed). */
  healSkipped?: string;
  /** Scopes whose list replaced the mirror (another cluster, a rewound etcd history). */
  mirrorResets?: { scope: string; reason: string }[];
  /** Malformed resourceVersions the mirror repair met and reported. */
  invalidResourceVersions?: number;
  /** Rollout receipts this pass moved on (ones the watcher missed, e.g. while it was down). */
  receiptsMoved?: number;
  /** The process began shutting down during the pass: whether the pass still finished, or was abandoned (the error says where). */
  shutdown?: 'finished' | 'abandoned';
}

/** One reconcile pass: what triggered it, when it ran, and what it repaired. */
@Entity({ name: 'reconcile_runs' })
export class ReconcileRunEntity implements ReconcileCounts {
  @PrimaryColumn({ type: 'bigint', insert: false, transformer: bigintAsNumber })
  id!: number;

  @Column({ type: 'varchar', length: 10 })
  trigger!: ReconcileTrigger;

  @Column({ type: 'varchar', length: 10 })
  status!: ReconcileStatus;

  @Column({ name: 'requested_at', type: 'timestamptz', insert: false })
  requestedAt!: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  @Column({ type: 'int' }) inserted!: number;
  @Column({ type: 'int' }) updated!: number;
  @Column({ name: 'marked_deleted', type: 'int' }) markedDeleted!: number;
  @Column({ type: 'int' }) republished!: number;
  @Column({ type: 'int' }) requeued!: number;
  @Column({ type: 'int' }) failed!: number;
  @Column({ type: 'int' }) drifted!: number;
  @Column({ type: 'int' }) healed!: number;

  @Column({ type: 'jsonb' })
  details!: ReconcileDetails;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  /** The PostgreSQL backend holding the pass lock for this run: a manual trigger finds the pass in progress by it. */
  @Column({ name: 'runner_pid', type: 'int', nullable: true })
  runnerPid!: number | null;
}
