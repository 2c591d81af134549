import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Access, CurrentPrincipal } from '../auth/access.decorator.js';
import type { Principal } from '../domain/principal.js';
import { ApiErrors, ErrorResponseDto } from '../http/api-errors.js';
import { accepted, IdempotencyHeader, WRITE_FORBIDDEN } from './deployment-requests.controller.js';
import { TargetParams } from './dto/deployment-spec.dto.js';
import { RequestRecordDto } from './dto/request-record.dto.js';
import { RevisionHistoryDto, RollbackBodyDto, toRevisionHistory } from './dto/revision.dto.js';
import { IdempotencyKey } from './idempotency-key.decorator.js';
import { RevisionsService } from './revisions.service.js';

/** A Deployment's revisions, read from the request ledger, and rollback to one of them. */
@ApiTags('deployments')
@Controller('v1/deployments')
@Access('reader')
export class DeploymentRevisionsController {
  constructor(private readonly revisions: RevisionsService) {}

  @Get(':namespace/:name/revisions')
  @ApiOperation({
    summary: "List a Deployment's revisions, oldest first",
    description:
      'The whole desired spec after each successful change, numbered from 1, with the request that made it and who ' +
      'asked. A DELETE ends a line and a later CREATE starts the next one; numbers keep counting across lines.',
  })
  @ApiOkResponse({ type: RevisionHistoryDto })
  @ApiErrors(400, 503)
  @ApiNotFoundResponse({
    type: ErrorResponseDto,
    description:
      "code DeploymentNotFound: no successful change was ever made, or the namespace is outside the API key's " +
      'scope (the same answer, so it never tells that it exists)',
  })
  async list(@Param() p: TargetParams, @CurrentPrincipal() principal: Principal): Promise<RevisionHistoryDto> {
    return toRevisionHistory(p.namespace, p.name, await this.revisions.history(p.namespace, p.name, principal));
  }

  @Post(':namespace/:name/rollback')
  @Access('writer')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Roll a Deployment back to a revision',
    description:
      "Queues a REPLACE (an UPDATE, as a PUT would) with that revision's whole spec; the record carries rollbackOf. " +
      'Once it succeeds it is the next revision.',
  })
  @IdempotencyHeader
  @ApiAcceptedResponse({ type: RequestRecordDto })
  @ApiErrors(400, 413, 422, 503)
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: WRITE_FORBIDDEN })
  @ApiNotFoundResponse({
    type: ErrorResponseDto,
    description: 'code RevisionNotFound: the Deployment has no such revision (details.revisions: how many it has)',
  })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description:
      'code DeploymentBeingDeleted: a DELETE of the Deployment is open, or the last one succeeded (a rollback never ' +
      'recreates); details.deleteRequestId and details.deleteStatus name it',
  })
  async rollback(
    @Param() p: TargetParams,
    @Body() body: RollbackBodyDto,
    @IdempotencyKey() key: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<RequestRecordDto> {
    return accepted(res, await this.revisions.rollback(p.namespace, p.name, body.revision, key, principal));
  }
}
