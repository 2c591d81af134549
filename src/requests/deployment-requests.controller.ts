import {
  applyDecorators,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuditService } from '../audit/audit.service.js';
import { Access } from '../auth/access.decorator.js';
import { ApiError, ApiErrors, ErrorResponseDto } from '../http/api-errors.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { REQUEST_ID } from '../domain/validators.js';
import { Operation, SpecMode } from './deployment-request.entity.js';
import {
  CreateDeploymentDto,
  DeploymentSpecDto,
  PatchDeploymentDto,
  RequestIdParams,
  TargetParams,
} from './dto/deployment-spec.dto.js';
import { GetRequestQuery } from './dto/get-request.query.js';
import { ListRequestsQuery } from './dto/list-requests.query.js';
import { RequestWaitService } from './request-wait.service.js';
import { RequestPageDto, RequestRecordDto, toRequestRecord } from './dto/request-record.dto.js';
import { IdempotencyKey, IDEMPOTENCY_KEY_HEADER } from './idempotency-key.decorator.js';
import { RequestsService, Submitted, type SubmitCommand } from './requests.service.js';
import { DryRunQuery, DryRunResultDto } from './dto/dry-run.dto.js';
import { DryRunsService } from './dry-runs.service.js';
import { PageQuery } from '../http/pagination.js';
import { CurrentPrincipal } from '../auth/access.decorator.js';
import type { Principal } from '../domain/principal.js';

export const IdempotencyHeader = ApiHeader({
  name: IDEMPOTENCY_KEY_HEADER,
  required: false,
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: REQUEST_ID.source, example: 'deploy-web-42' },
  description:
    'Makes the call safe to repeat. Keys belong to the API key that sends them: the same key from the same API key ' +
    'with the same body returns the original record (header Idempotent-Replayed: true) and queues nothing; with a ' +
    'different body it answers 422. Another API key using the same Idempotency-Key gets its own, separate request. ' +
    'The requestId is always a new server-assigned UUID. Keys are kept as long as the request record.',
});

/** The write refusals every write route can give: the key's scope first, then MANAGED_NAMESPACES. */
export const WRITE_FORBIDDEN =
  "code PermissionDenied: the namespace is outside the API key's scope (the message names the namespace and the " +
  'scope; details.namespace, details.scope). code NamespaceNotAllowed: the namespace is outside MANAGED_NAMESPACES ' +
  'or is a Kubernetes system namespace.';

/** What `?dryRun=true` adds to a write route's contract. */
const DryRunResponses = () =>
  applyDecorators(
    ApiOkResponse({
      type: DryRunResultDto,
      description: 'With ?dryRun=true: what the write would change. Nothing is recorded or queued.',
    }),
    ApiNotFoundResponse({
      type: ErrorResponseDto,
      description:
        'With ?dryRun=true: code NotFound, the Deployment does not exist (a PUT or PATCH would end FAILURE NotFound); ' +
        'code NamespaceNotFound, a create into a namespace that does not exist with CREATE_NAMESPACES off.',
    }),
    ApiConflictResponse({
      type: ErrorResponseDto,
      description:
        'With ?dryRun=true: code Conflict, a create over a Deployment we do not manage; code ' +
        'ResourceVersionConflict, it kept changing while the dry run ran.',
    }),
    ApiError(
      422,
      'code IdempotencyKeyReused: Idempotency-Key reused with a different body. With ?dryRun=true: code Invalid, ' +
        "Kubernetes' validation or a webhook refused the object (details.kubernetes: its status and reason).",
    ),
    ApiError(
      502,
      'With ?dryRun=true: code KubernetesError or Unauthorized, the apiserver answered something unexpected or ' +
        "refused the worker's credentials.",
    ),
    ApiError(
      503,
      'A dependency (PostgreSQL, NATS, Kubernetes) is unavailable; retry after Retry-After seconds. With ' +
        '?dryRun=true: code DependencyUnavailable, no worker answered (is a process with ROLE=worker running?).',
    ),
  );

const DRY_RUN_NOTE =
  ' With ?dryRun=true a worker makes the same write with dryRun=All and the call answers 200 with the fields that ' +
  'would change; nothing is recorded or queued, Idempotency-Key is ignored, and refusals are the ones the request ' +
  'would end FAILURE with, answered at once.';

const DRY_RUN_FORBIDDEN =
  WRITE_FORBIDDEN +
  " With ?dryRun=true also: code Forbidden, the Deployment is not managed by k8s-deployment-manager, or Kubernetes' " +
  'admission refused the write (e.g. exceeded quota; details.kubernetes: its status and reason; the message is ' +
  "Kubernetes' own).";

export function accepted(res: FastifyReply, s: Submitted): RequestRecordDto {
  res.header('Location', `/v1/requests/${encodeURIComponent(s.request.requestId)}`);
  if (s.replayed) res.header('Idempotent-Replayed', 'true');
  return toRequestRecord(s.request);
}

/** Write endpoints: each records a request and answers 202 at once; a worker applies it. */
@ApiTags('deployments')
@Controller('v1/deployments')
@Access('writer')
export class DeploymentWritesController {
  constructor(
    private readonly requests: RequestsService,
    private readonly dryRuns: DryRunsService,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Create a Deployment',
    description: 'Queues a CREATE request and answers at once.' + DRY_RUN_NOTE,
  })
  @IdempotencyHeader
  @ApiAcceptedResponse({ type: RequestRecordDto })
  @ApiErrors(400, 413)
  @DryRunResponses()
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: DRY_RUN_FORBIDDEN })
  async create(
    @Body() body: CreateDeploymentDto,
    @Query() { dryRun }: DryRunQuery,
    @IdempotencyKey() key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<RequestRecordDto | globalThis.Response> {
    const { namespace, name, ...spec } = body;
    return this.write(dryRun, req, res, principal, {
      operation: Operation.CREATE,
      namespace,
      name,
      spec,
      specMode: SpecMode.REPLACE,
      idempotencyKey: key,
    });
  }

  @Put(':namespace/:name')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Replace the desired spec of a Deployment',
    description: 'Fields left out are removed.' + DRY_RUN_NOTE,
  })
  @IdempotencyHeader
  @ApiAcceptedResponse({ type: RequestRecordDto })
  @ApiErrors(400, 413)
  @DryRunResponses()
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: DRY_RUN_FORBIDDEN })
  async replace(
    @Param() target: TargetParams,
    @Body() spec: DeploymentSpecDto,
    @Query() { dryRun }: DryRunQuery,
    @IdempotencyKey() key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<RequestRecordDto | globalThis.Response> {
    return this.write(dryRun, req, res, principal, {
      operation: Operation.UPDATE,
      ...target,
      spec: { ...spec },
      specMode: SpecMode.REPLACE,
      idempotencyKey: key,
    });
  }

  @Patch(':namespace/:name')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Change some fields of a Deployment',
    description:
      'Recorded as an UPDATE whose spec holds only the given fields; each replaces the current value whole.' +
      DRY_RUN_NOTE,
  })
  @IdempotencyHeader
  @ApiAcceptedResponse({ type: RequestRecordDto })
  @ApiErrors(400, 413)
  @DryRunResponses()
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: DRY_RUN_FORBIDDEN })
  async patch(
    @Param() target: TargetParams,
    @Body() patch: PatchDeploymentDto,
    @Query() { dryRun }: DryRunQuery,
    @IdempotencyKey() key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<RequestRecordDto | globalThis.Response> {
    if (Object.values(patch).every((v) => v === undefined)) {
      throw new DomainError(
        ErrorCode.ValidationFailed,
        'PATCH body must name at least one of image, replicas, env, resources, labels, annotations',
      );
    }
    return this.write(dryRun, req, res, principal, {
      operation: Operation.UPDATE,
      ...target,
      spec: { ...patch },
      specMode: SpecMode.MERGE,
      idempotencyKey: key,
    });
  }

  @Delete(':namespace/:name')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Delete a Deployment',
    description: 'Deleting one that is already gone ends SUCCESS.' + DRY_RUN_NOTE,
  })
  @IdempotencyHeader
  @ApiAcceptedResponse({ type: RequestRecordDto })
  @ApiErrors(400)
  @DryRunResponses()
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: DRY_RUN_FORBIDDEN })
  async remove(
    @Param() target: TargetParams,
    @Query() { dryRun }: DryRunQuery,
    @IdempotencyKey() key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<RequestRecordDto | globalThis.Response> {
    return this.write(dryRun, req, res, principal, {
      operation: Operation.DELETE,
      ...target,
      spec: null,
      specMode: SpecMode.REPLACE,
      idempotencyKey: key,
    });
  }

  /** Records and queues the write (202), or with dryRun asks a worker what it would change (200). */
  private async write(
    dryRun: boolean | undefined,
    req: FastifyRequest,
    res: FastifyReply,
    principal: Principal,
    cmd: Omit<SubmitCommand, 'requester'>,
  ): Promise<RequestRecordDto | globalThis.Response> {
    if (!dryRun) return accepted(res, await this.requests.submit({ ...cmd, requester: principal }));
    // Set first, so a refusal's audit entry says it was a dry run too.
    AuditService.addDetails(req, { dryRun: true });
    const { operation, specMode, namespace, name, spec } = cmd;
    const outcome = await this.dryRuns.run({ operation, specMode, namespace, name, spec }, principal);
    AuditService.addDetails(req, { dryRun: true, wouldChange: outcome.wouldChange, changes: outcome.changes.length });
    const body: DryRunResultDto = { dryRun: true, ...outcome };
    // A returned web Response is sent with its own status, over the route's @HttpCode(202).
    res.status(200);
    return new globalThis.Response(JSON.stringify(body), {
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
  }
}

const NOT_FOUND =
  "code RequestNotFound: no such request, or it is in a namespace outside the API key's scope (the answer is " +
  'the same, so it never tells that the request exists).';

@ApiTags('requests')
@Controller('v1/requests')
@Access('reader')
export class RequestsController {
  constructor(
    private readonly requests: RequestsService,
    private readonly waiter: RequestWaitService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'List requests, newest first',
    description: "Only requests in the API key's namespace scope.",
  })
  @ApiOkResponse({ type: RequestPageDto })
  @ApiErrors(400, 503)
  async list(@Query() q: ListRequestsQuery, @CurrentPrincipal() principal: Principal): Promise<RequestPageDto> {
    const page = await this.requests.list(principal, q);
    return { items: page.items.map(toRequestRecord), nextCursor: page.nextCursor };
  }

  @Get(':requestId')
  @ApiOperation({
    summary: 'Get one request',
    description:
      'With wait (long-poll), answers as soon as the request is done or its rollout is final, or at the timeout ' +
      'with the current record and Retry-After; no database connection is held while it waits.',
  })
  @ApiOkResponse({
    type: RequestRecordDto,
    headers: {
      'Retry-After': {
        description: 'Only on a long-poll that reached its timeout: seconds before polling again',
        schema: { type: 'integer', example: 1 },
      },
    },
  })
  @ApiErrors(400, 503)
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: NOT_FOUND })
  async get(
    @Param() { requestId }: RequestIdParams,
    @Query() q: GetRequestQuery,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<RequestRecordDto> {
    if (!q.wait) return toRequestRecord(await this.requests.get(requestId, principal));
    const { record, timedOut } = await this.waiter.waitFor(requestId, principal, q.wait, (q.timeout ?? 30) * 1000);
    if (timedOut) res.header('Retry-After', '1');
    return toRequestRecord(record);
  }

  @Post(':requestId/retry')
  @Access('writer')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Queue a FAILURE request again as a new attempt',
    description:
      'Only while no newer request for the same Deployment has succeeded or is still open: retrying an older ' +
      'request would re-apply stale intent over the newer one (an old DELETE would delete the recreated ' +
      'Deployment). Newer requests that ended FAILURE do not block a retry.',
  })
  @ApiAcceptedResponse({ type: RequestRecordDto })
  @ApiErrors(400, 503)
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: NOT_FOUND })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description:
      'code RequestNotRetryable: the request is not FAILURE. code RetrySuperseded: a newer request for the same ' +
      'Deployment succeeded or is still open (CREATED, QUEUED, PROCESSING); details.newerRequestId names the ' +
      'newest such request and details.newerStatus its status. Send a new request instead.',
  })
  async retry(
    @Param() { requestId }: RequestIdParams,
    @CurrentPrincipal() principal: Principal,
  ): Promise<RequestRecordDto> {
    return toRequestRecord(await this.requests.retry(requestId, principal));
  }
}

@ApiTags('dead letters')
@Controller('v1/dead-letters')
@Access('admin')
export class DeadLettersController {
  constructor(private readonly requests: RequestsService) {}

  @Get()
  @ApiOperation({
    summary: 'List dead-lettered requests, newest first',
    description: 'Retry one with POST /v1/requests/{requestId}/retry.',
  })
  @ApiOkResponse({ type: RequestPageDto })
  @ApiErrors(400, 503)
  async list(@Query() q: PageQuery, @CurrentPrincipal() principal: Principal): Promise<RequestPageDto> {
    const page = await this.requests.list(principal, { ...q, deadLettered: true });
    return { items: page.items.map(toRequestRecord), nextCursor: page.nextCursor };
  }
}
