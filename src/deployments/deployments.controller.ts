import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access, CurrentPrincipal } from '../auth/access.decorator.js';
import { ApiErrors, ErrorResponseDto } from '../http/api-errors.js';
import type { Principal } from '../domain/principal.js';
import { DeploymentsService } from './deployments.service.js';
import { DeploymentParams, GetDeploymentQuery, ListDeploymentsQuery } from './dto/deployment-queries.dto.js';
import {
  DeploymentDetailDto,
  DeploymentPageDto,
  toDeploymentDetail,
  toDeploymentPage,
} from './dto/deployment-record.dto.js';

/** Reads of the deployments mirror that the watcher keeps. */
@ApiTags('deployments')
@Controller('v1/deployments')
@Access('reader')
export class DeploymentsController {
  constructor(private readonly deployments: DeploymentsService) {}

  @Get()
  @ApiOperation({
    summary: 'List mirrored Deployments in (namespace, name) order',
    description:
      'Served from PostgreSQL; syncedAt says how fresh the mirror is. The cursor is stable while rows are added. ' +
      "Only Deployments in the API key's namespace scope.",
  })
  @ApiOkResponse({ type: DeploymentPageDto })
  @ApiErrors(400, 503)
  async list(@Query() q: ListDeploymentsQuery, @CurrentPrincipal() principal: Principal): Promise<DeploymentPageDto> {
    return toDeploymentPage(await this.deployments.list(q, principal));
  }

  @Get(':namespace/:name')
  @ApiOperation({
    summary: 'Get one Deployment and its most recent requests',
    description:
      'From the mirror, or with consistency=strong read from Kubernetes now. 404 when it was never seen, and ' +
      "also when its namespace is outside the API key's scope (the same answer, so it never tells that it exists). " +
      '403 only with consistency=strong, for a namespace outside MANAGED_NAMESPACES.',
  })
  @ApiOkResponse({ type: DeploymentDetailDto })
  @ApiErrors(400, 403, 503)
  @ApiNotFoundResponse({
    type: ErrorResponseDto,
    description: "code DeploymentNotFound: never seen, not in Kubernetes (strong), or outside the API key's scope",
  })
  async get(
    @Param() p: DeploymentParams,
    @Query() q: GetDeploymentQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DeploymentDetailDto> {
    return toDeploymentDetail(await this.deployments.get(p.namespace, p.name, principal, q.consistency));
  }
}
