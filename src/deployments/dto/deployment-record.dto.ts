import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  RequestRecordDto,
  RolloutReceiptDto,
  toRequestRecord,
  toRolloutReceipt,
} from '../../requests/dto/request-record.dto.js';
import { Operation, RequestStatus } from '../../requests/deployment-request.entity.js';
import type { DeploymentSpecPatch } from '../../domain/deployment-spec.js';
import { DeploymentEntity, RolloutState } from '../deployment.entity.js';
import { SOURCES, type DeploymentDetail, type DeploymentPage, type Source } from '../deployments.service.js';
import { hideUnmanagedEnv } from '../mirror-row.mapper.js';

export class DeploymentConditionDto {
  @ApiProperty({ example: 'Available' })
  type!: string;

  @ApiProperty({ example: 'True', enum: ['True', 'False', 'Unknown'] })
  status!: string;

  @ApiPropertyOptional({ example: 'MinimumReplicasAvailable' })
  reason?: string;

  @ApiPropertyOptional({ example: 'Deployment has minimum availability.' })
  message?: string;

  @ApiPropertyOptional({ example: '2026-11-28T07:30:02.000Z' })
  lastTransitionTime?: string;
}

const DRIFT_FIELDS = ['image', 'replicas', 'containerPort', 'env', 'resources', 'labels', 'annotations'];

export class FieldManagerDto {
  @ApiProperty({ example: 'kubectl-scale', description: 'A field manager (metadata.managedFields[].manager)' })
  manager!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '2026-11-28T07:40:12.000Z',
    description: 'When this manager last changed the object (managedFields[].time); null when Kubernetes gave none',
  })
  changedAt!: string | null;
}

export class DriftedFieldDto {
  @ApiProperty({ enum: DRIFT_FIELDS, example: 'replicas' })
  field!: string;

  @ApiProperty({
    type: [FieldManagerDto],
    description: "The field managers that own the field now (this service's own when the change kept its ownership)",
  })
  managers!: FieldManagerDto[];
}

export class ManagedElsewhereFieldDto extends FieldManagerDto {
  @ApiProperty({ enum: DRIFT_FIELDS, example: 'replicas' })
  field!: string;
}

export class DriftReportDto {
  @ApiProperty({ example: '2026-11-28T07:45:00.000Z', description: 'When the reconcile pass that judged it began' })
  checkedAt!: string;

  @ApiProperty({ type: [DriftedFieldDto], description: 'Fields that differ from the last successful request' })
  fields!: DriftedFieldDto[];

  @ApiProperty({
    type: [ManagedElsewhereFieldDto],
    description:
      'Fields that differ but are owned by a manager in MANAGED_ELSEWHERE_FIELD_MANAGERS (the HPA controller): ' +
      'not drift, never healed',
  })
  managedElsewhere!: ManagedElsewhereFieldDto[];
}

export class DeploymentRecordDto {
  @ApiProperty({ example: 'default' })
  namespace!: string;

  @ApiProperty({ example: 'web' })
  name!: string;

  @ApiProperty({ example: '5f0c7a4e-8b1d-4c2e-9a53-0d7f3b8e2c11' })
  uid!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: {
      team: 'payments',
      'app.kubernetes.io/name': 'web',
      'app.kubernetes.io/managed-by': 'k8s-deployment-manager',
    },
  })
  labels!: Record<string, string>;

  @ApiProperty({ type: [String], example: ['nginx:1.27'] })
  images!: string[];

  @ApiProperty({
    type: 'object',
    nullable: true,
    additionalProperties: true,
    example: {
      image: 'nginx:1.27',
      replicas: 2,
      env: { LOG_LEVEL: 'info' },
      envReferences: { DB_PASSWORD: 'secretKeyRef' },
      labels: { team: 'payments' },
    },
    description:
      'The managed fields as Kubernetes has them, in request-spec shape. env holds literal values only. Env vars ' +
      'whose value comes from a reference (valueFrom) are listed in envReferences, name → kind of reference ' +
      '(secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef); their values are never stored or shown. For ' +
      'Deployments this service does not manage (seen with WATCH_ALL_DEPLOYMENTS), env and envReferences are ' +
      'replaced by envNames: the sorted names of the env vars, no values.',
  })
  spec!: DeploymentSpecPatch | null;

  @ApiProperty({ example: 2, description: 'spec.replicas' })
  desiredReplicas!: number;

  @ApiProperty({ example: 2 })
  readyReplicas!: number;

  @ApiProperty({ example: 2 })
  updatedReplicas!: number;

  @ApiProperty({ example: 2 })
  availableReplicas!: number;

  @ApiProperty({ example: 0 })
  unavailableReplicas!: number;

  @ApiProperty({ type: [DeploymentConditionDto] })
  conditions!: DeploymentConditionDto[];

  @ApiProperty({ example: 3, description: 'metadata.generation' })
  generation!: number;

  @ApiProperty({ example: 3, description: 'status.observedGeneration' })
  observedGeneration!: number;

  @ApiProperty({ example: '48213' })
  resourceVersion!: string;

  @ApiProperty({
    enum: RolloutState,
    example: RolloutState.AVAILABLE,
    description: 'Derived as `kubectl rollout status` does; FAILED means the progress deadline was exceeded',
  })
  rollout!: RolloutState;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '0b9a6a57-4c79-4c8b-9a8e-3f5b3e0f6a41',
    description: 'The request that last wrote it, from its annotation',
  })
  lastRequestId!: string | null;

  @ApiProperty({
    example: false,
    description: 'Kubernetes differs from the last successful request (set by the reconciler)',
  })
  drifted!: boolean;

  @ApiProperty({
    type: DriftReportDto,
    nullable: true,
    description:
      'Who changed what, as the last reconcile pass found it: each drifted field with the field managers that own ' +
      'it now and when they last changed the object, and the fields managed elsewhere. null: nothing differed ' +
      '(or no pass has judged it)',
  })
  drift!: DriftReportDto | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '2026-11-28T07:30:00.000Z',
    description: 'metadata.creationTimestamp',
  })
  kubernetesCreatedAt!: string | null;

  @ApiProperty({ example: '2026-11-28T07:30:00.210Z', description: 'When the mirror first saw it' })
  createdAt!: string;

  @ApiProperty({ example: '2026-11-28T07:31:12.004Z', description: 'When the mirror row last changed' })
  updatedAt!: string;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'When it was seen deleted from Kubernetes' })
  deletedAt!: string | null;

  @ApiProperty({
    example: '2026-11-28T07:31:12.004Z',
    description: 'When the watcher last wrote this row from Kubernetes',
  })
  syncedAt!: string;
}

export class DeploymentPageDto {
  @ApiProperty({ type: [DeploymentRecordDto] })
  items!: DeploymentRecordDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'WyJkZWZhdWx0Iiwid2ViIl0',
    description: 'Pass as cursor for the next page; null on the last page',
  })
  nextCursor!: string | null;

  @ApiProperty({ enum: SOURCES, example: 'cache', description: 'Lists always come from the mirror' })
  source!: Source;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '2026-11-28T07:31:40.000Z',
    description:
      'The mirror matched Kubernetes at this time (last event, bookmark or relist); null before the first sync',
  })
  syncedAt!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '2026-11-28T07:31:40.000Z',
    description: 'When the watcher last heard an event or bookmark',
  })
  lastEventAt!: string | null;
}

export class LatestRequestDto {
  @ApiProperty({ example: '0b9a6a57-4c79-4c8b-9a8e-3f5b3e0f6a41' })
  requestId!: string;

  @ApiProperty({ enum: Operation, example: Operation.UPDATE })
  operation!: Operation;

  @ApiProperty({ enum: RequestStatus, example: RequestStatus.SUCCESS })
  status!: RequestStatus;

  @ApiProperty({
    type: RolloutReceiptDto,
    nullable: true,
    description: 'Its rollout receipt; null until it succeeds',
  })
  rollout!: RolloutReceiptDto | null;
}

export class DeploymentDetailDto {
  @ApiProperty({
    enum: SOURCES,
    example: 'cache',
    description: 'cache: the mirror; kubernetes: read just now (consistency=strong)',
  })
  source!: Source;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '2026-11-28T07:31:40.000Z',
    description: 'cache: when the mirror last matched Kubernetes; kubernetes: when it was read',
  })
  syncedAt!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '2026-11-28T07:31:40.000Z',
    description: 'When the watcher last heard an event or bookmark',
  })
  lastEventAt!: string | null;

  @ApiProperty({ type: DeploymentRecordDto })
  deployment!: DeploymentRecordDto;

  @ApiProperty({
    type: LatestRequestDto,
    nullable: true,
    description: "Its latest request and that request's rollout receipt; null when it has none",
  })
  latestRequest!: LatestRequestDto | null;

  @ApiProperty({ type: [RequestRecordDto], description: 'Its most recent requests, newest first' })
  recentRequests!: RequestRecordDto[];
}

const isoOrNull = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function toDeploymentRecord(e: DeploymentEntity): DeploymentRecordDto {
  return {
    namespace: e.namespace,
    name: e.name,
    uid: e.uid,
    labels: e.labels,
    images: e.images,
    spec: hideUnmanagedEnv(e.spec, e.labels),
    desiredReplicas: e.desiredReplicas,
    readyReplicas: e.readyReplicas,
    updatedReplicas: e.updatedReplicas,
    availableReplicas: e.availableReplicas,
    unavailableReplicas: e.unavailableReplicas,
    conditions: e.conditions,
    generation: e.generation,
    observedGeneration: e.observedGeneration,
    resourceVersion: e.resourceVersion,
    rollout: e.rollout,
    lastRequestId: e.lastRequestId,
    drifted: e.drifted,
    drift: e.drift ?? null,
    kubernetesCreatedAt: isoOrNull(e.k8sCreatedAt),
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
    deletedAt: isoOrNull(e.deletedAt),
    syncedAt: e.syncedAt.toISOString(),
  };
}

export function toDeploymentPage(p: DeploymentPage): DeploymentPageDto {
  return {
    items: p.items.map(toDeploymentRecord),
    nextCursor: p.nextCursor,
    source: 'cache',
    syncedAt: isoOrNull(p.syncedAt),
    lastEventAt: isoOrNull(p.lastEventAt),
  };
}

export function toDeploymentDetail(d: DeploymentDetail): DeploymentDetailDto {
  // recentRequests come newest first.
  const latest = d.recentRequests[0];
  return {
    source: d.source,
    syncedAt: isoOrNull(d.syncedAt),
    lastEventAt: isoOrNull(d.lastEventAt),
    deployment: toDeploymentRecord(d.deployment),
    latestRequest: latest
      ? {
          requestId: latest.requestId,
          operation: latest.operation,
          status: latest.status,
          rollout: toRolloutReceipt(latest.rollout),
        }
      : null,
    recentRequests: d.recentRequests.map(toRequestRecord),
  };
}
