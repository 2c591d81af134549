import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { ReconcileRunEntity, ReconcileStatus, ReconcileTrigger } from '../reconcile-run.entity.js';

export class DriftedDeploymentDto {
  @ApiProperty({ example: 'default' }) namespace!: string;
  @ApiProperty({ example: 'web' }) name!: string;
  @ApiProperty({ example: ['replicas'], description: 'Managed fields that differ from the last successful request' })
  fields!: string[];
}

export class OwnedDriftDto {
  @ApiProperty({ example: 'default' }) namespace!: string;
  @ApiProperty({ example: 'web' }) name!: string;
  @ApiProperty({ example: 'replicas' }) field!: string;
  @ApiProperty({ example: 'kube-controller-manager', description: 'The field manager that owns the field now' })
  manager!: string;
}

export class SkippedDeploymentDto {
  @ApiProperty({ example: 'default' }) namespace!: string;
  @ApiProperty({ example: 'web' }) name!: string;
  @ApiProperty({ example: 'a request is open or completed during this pass' }) reason!: string;
}

export class ReconcileRunDto {
  @ApiProperty({ example: 42 }) id!: number;
  @ApiProperty({ enum: ReconcileTrigger, example: ReconcileTrigger.MANUAL }) trigger!: ReconcileTrigger;
  @ApiProperty({ enum: ReconcileStatus, example: ReconcileStatus.SUCCEEDED }) status!: ReconcileStatus;
  @ApiProperty({ example: '2026-11-28T08:00:00.000Z' }) requestedAt!: string;
  @ApiPropertyOptional({ example: '2026-11-28T08:00:00.010Z' }) startedAt?: string;
  @ApiPropertyOptional({ example: '2026-11-28T08:00:01.200Z' }) finishedAt?: string;
  @ApiProperty({ example: 1, description: 'Mirror rows inserted for Deployments missing from the database' })
  inserted!: number;
  @ApiProperty({ example: 2, description: 'Mirror rows brought up to date' }) updated!: number;
  @ApiProperty({ example: 0, description: 'Mirror rows marked deleted: gone from Kubernetes' }) markedDeleted!: number;
  @ApiProperty({ example: 0, description: 'CREATED requests published again' }) republished!: number;
  @ApiProperty({ example: 0, description: 'Stalled in-flight requests queued again' }) requeued!: number;
  @ApiProperty({ example: 0, description: 'Requests failed with DeadlineExceeded' }) failed!: number;
  @ApiProperty({ example: 1, description: 'Deployments edited out of band' }) drifted!: number;
  @ApiProperty({ example: 0, description: 'Requests queued to restore drifted Deployments (SELF_HEAL)' })
  healed!: number;
  @ApiProperty({ type: [DriftedDeploymentDto] }) driftedDeployments!: DriftedDeploymentDto[];
  @ApiProperty({ type: [String], example: [], description: 'Requests the pass queued to heal drift' })
  healRequests!: string[];
  @ApiPropertyOptional({ example: 'mirror: Kubernetes list timed out' }) error?: string;
  @ApiProperty({
    type: [OwnedDriftDto],
    description: 'Drifted fields another field manager owns now (kubectl scale, kubectl edit): reported, never healed',
  })
  ownedDrift!: OwnedDriftDto[];
  @ApiProperty({
    type: [SkippedDeploymentDto],
    description: 'Deployments not judged for drift: a request was in flight during the pass',
  })
  skippedDeployments!: SkippedDeploymentDto[];
  @ApiProperty({
    type: [OwnedDriftDto],
    description:
      'Fields that differ but a manager in MANAGED_ELSEWHERE_FIELD_MANAGERS owns (the HPA controller): not drift, never healed',
  })
  managedElsewhere!: OwnedDriftDto[];
}

export class ReconcileRunPageDto {
  @ApiProperty({ type: [ReconcileRunDto] }) items!: ReconcileRunDto[];
  @ApiProperty({ type: String, nullable: true, example: 'NDE' }) nextCursor!: string | null;
}

export class ReconcileAcceptedDto {
  @ApiProperty({ example: 42, description: 'Poll GET /v1/admin/reconcile-runs/{runId}' }) runId!: number;
  @ApiProperty({
    example: false,
    description:
      'true: a pass was already running, and runId is that pass (no new pass was started or queued); ' +
      'false: runId is a pass started by this call',
  })
  alreadyRunning!: boolean;
}

export function toReconcileRunDto(r: ReconcileRunEntity): ReconcileRunDto {
  return {
    id: r.id,
    trigger: r.trigger,
    status: r.status,
    requestedAt: r.requestedAt.toISOString(),
    ...(r.startedAt ? { startedAt: r.startedAt.toISOString() } : {}),
    ...(r.finishedAt ? { finishedAt: r.finishedAt.toISOString() } : {}),
    inserted: r.inserted,
    updated: r.updated,
    markedDeleted: r.markedDeleted,
    republished: r.republished,
    requeued: r.requeued,
    failed: r.failed,
    drifted: r.drifted,
    healed: r.healed,
    driftedDeployments: r.details.drifted ?? [],
    healRequests: r.details.healRequests ?? [],
    ...(r.error ? { error: r.error } : {}),
    ownedDrift: r.details.ownedDrift ?? [],
    skippedDeployments: r.details.skipped ?? [],
    managedElsewhere: r.details.managedElsewhere ?? [],
  };
}

const RUN_ID = /^[1-9][0-9]{0,15}$/;

/** Run ids are bigserial, read as JS numbers: a positive integer up to 2^53-1, digits only. */
export class ReconcileRunParams {
  @ApiProperty({
    type: String,
    pattern: RUN_ID.source,
    example: '42',
    description: 'A run id: a positive integer of at most 16 digits',
  })
  @IsString()
  @Matches(RUN_ID, { message: 'id must be a positive integer of at most 16 digits' })
  id!: string;
}
