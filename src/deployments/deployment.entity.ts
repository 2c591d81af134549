import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../database/column-transformers.js';
import type { DeploymentSpecPatch } from '../domain/deployment-spec.js';
import type { DriftReport, FieldOwners, StoredManagerTimes } from './field-owners.js';

export enum RolloutState {
  PROGRESSING = 'PROGRESSING',
  AVAILABLE = 'AVAILABLE',
  FAILED = 'FAILED',
}

export interface DeploymentCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** PostgreSQL's mirror of one Kubernetes Deployment; Kubernetes owns the truth, the watcher writes this. */
@Entity({ name: 'deployments' })
export class DeploymentEntity {
  @PrimaryColumn({ type: 'varchar', length: 63 })
  namespace!: string;

  @PrimaryColumn({ type: 'varchar', length: 253 })
  name!: string;

  @Column({ type: 'uuid' })
  uid!: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  labels!: Record<string, string>;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  images!: string[];

  /** The managed fields as Kubernetes has them, in request-spec shape, for drift checks. */
  @Column({ type: 'jsonb', nullable: true })
  spec!: DeploymentSpecPatch | null;

  @Column({ name: 'desired_replicas', type: 'int' })
  desiredReplicas!: number;

  @Column({ name: 'ready_replicas', type: 'int', default: 0 })
  readyReplicas!: number;

  @Column({ name: 'updated_replicas', type: 'int', default: 0 })
  updatedReplicas!: number;

  @Column({ name: 'available_replicas', type: 'int', default: 0 })
  availableReplicas!: number;

  @Column({ name: 'unavailable_replicas', type: 'int', default: 0 })
  unavailableReplicas!: number;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  conditions!: DeploymentCondition[];

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  generation!: number;

  @Column({ name: 'observed_generation', type: 'bigint', default: 0, transformer: bigintAsNumber })
  observedGeneration!: number;

  @Column({ name: 'resource_version', type: 'varchar', length: 64 })
  resourceVersion!: string;

  @Column({ type: 'varchar', length: 16 })
  rollout!: RolloutState;

  @Column({ name: 'last_request_id', type: 'varchar', length: 255, nullable: true })
  lastRequestId!: string | null;

  @Column({ type: 'boolean', default: false })
  drifted!: boolean;

  @Column({ name: 'k8s_created_at', type: 'timestamptz', nullable: true })
  k8sCreatedAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', insert: false, update: false })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;

  @Column({ name: 'synced_at', type: 'timestamptz' })
  syncedAt!: Date;

  /** Field managers owning each managed field (from managedFields), for self-heal. */
  @Column({ name: 'field_owners', type: 'jsonb', default: () => "'{}'" })
  fieldOwners!: FieldOwners;

  /** When each field manager last changed the object (managedFields[].time). */
  @Column({ name: 'manager_times', type: 'jsonb', default: () => "'{}'" })
  managerTimes!: StoredManagerTimes;

  /** The reconciler's last judgement: who owns each drifted field now, and what is managed elsewhere. */
  @Column({ type: 'jsonb', nullable: true })
  drift!: DriftReport | null;
}
