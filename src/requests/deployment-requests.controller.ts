import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Res } from '@nestjs/common';
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
import type { Response } from 'express';
import { Access } from '../auth/access.decorator.js';
import { ApiErrors, ErrorResponseDto } from '../http/api-errors.js';
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
import { RequestsService, Submitted } from './requests.service.js';
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

export function accepted(res: Response, s: Submitted): RequestRecordDto {
  res.setHeader('Location', `/v1/requests/${encodeURIComponent(s.request.requestId)}`);
  if (s.replayed) res.setHeader('Idempotent-Replayed', 'true');
  return toRequestRecord(s.request);
}

/** Write endpoints: each records a request and answers 202 at once; a worker applies it. */
@ApiTags('deployments')
@Controller('v1/deployments')
@Access('writer')
export class DeploymentWritesController {
  constructor(private readonly requests: RequestsService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Create a Deployment', description: 'Queues a CREATE request and answers at once.' })
  @IdempotencyHeader
  @ApiAcceptedResponse({ type: RequestRecordDto })
  @ApiErrors(400, 413, 422, 503)
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: WRITE_FORBIDDEN })
  async create(
    @Body() body: CreateDeploymentDto,
    @IdempotencyKey() key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RequestRecordDto> {
    const { namespace, name, ...spec } = body;
    return accepted(
      res,
      await this.requests.submit({
        operation: Operation.CREATE,
        namespace,
        name,
        spec,
        specMode: SpecMode.REPLACE,
        idempotencyKey: key,
        requester: principal,
      }),
    );
  }

  @Put(':namespace/:name')
  @HttpCode(202)
  @ApiOperation({ summary: 'Replace the desired spec of a Deployment', description: 'Fields left out are removed.' })
  @IdempotencyHeader
  @ApiAcceptedResponse({ type: RequestRecordDto })
  @ApiErrors(400, 413, 422, 503)
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: WRITE_FORBIDDEN })
  async replace(
    @Param() target: TargetParams,
    @Body() spec: DeploymentSpecDto,
    @IdempotencyKey() key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RequestRecordDto> {
    return accepted(
      res,
      await this.requests.submit({
        operation: Operation.UPDATE,
        ...target,
        spec: { ...spec },
        specMode: SpecMode.REPLACE,
        idempotencyKey: key,
        requester: principal,
      }),
    );
  }

  @Patch(':namespace/:name')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Change some fields of a Deployment',
    description: 'Recorded as an UPDATE whose spec holds only the given fields; each replaces the current value whole.',
  })
  @IdempotencyHeader
  @ApiAcceptedResponse({ type: RequestRecordDto })
  @ApiErrors(400, 413, 422, 503)
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: WRITE_FORBIDDEN })
  async patch(
    @Param() target: TargetParams,
    @Body() patch: PatchDeploymentDto,
    @IdempotencyKey() key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RequestRecordDto> {
    if (Object.values(patch).every((v) => v === undefined)) {
      throw new DomainError(
        ErrorCode.ValidationFailed,
        'PATCH body must name at least one of image, replicas, env, resources, labels, annotations',
      );
    }
    return accepted(
      res,
      await this.requests.submit({
        operation: Operation.UPDATE,
        ...target,
        spec: { ...patch },
        specMode: SpecMode.MERGE,
        idempotencyKey: key,
        requester: principal,
      }),
    );
  }

  @Delete(':namespace/:name')
  @HttpCode(202)
  @ApiOperation({ summary: 'Delete a Deployment', description: 'Deleting one that is already gone ends SUCCESS.' })
  @IdempotencyHeader
  @ApiAcceptedResponse({ type: RequestRecordDto })
  @ApiErrors(400, 422, 503)
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: WRITE_FORBIDDEN })
  async remove(
    @Param() target: TargetParams,
    @IdempotencyKey() key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RequestRecordDto> {
    return accepted(
      res,
      await this.requests.submit({
        operation: Operation.DELETE,
        ...target,
        spec: null,
        specMode: SpecMode.REPLACE,
        idempotencyKey: key,
        requester: principal,
      }),
    );
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
    @Res({ passthrough: true }) res: Response,
  ): Promise<RequestRecordDto> {
    if (!q.wait) return toRequestRecord(await this.requests.get(requestId, principal));
    const { record, timedOut } = await this.waiter.waitFor(requestId, principal, q.wait, (q.timeout ?? 30) * 1000);
    if (timedOut) res.setHeader('Retry-After', '1');
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
