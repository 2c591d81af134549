import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator.js';
import { ApiErrors } from '../http/api-errors.js';
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
      'Served from PostgreSQL; syncedAt says how fresh the mirror is. The cursor is stable while rows are added.',
  })
  @ApiOkResponse({ type: DeploymentPageDto })
  @ApiErrors(400, 503)
  async list(@Query() q: ListDeploymentsQuery): Promise<DeploymentPageDto> {
    return toDeploymentPage(await this.deployments.list(q));
  }

  @Get(':namespace/:name')
  @ApiOperation({
    summary: 'Get one Deployment and its most recent requests',
    description: 'From the mirror, or with consistency=strong read from Kubernetes now. 404 when it was never seen.',
  })
  @ApiOkResponse({ type: DeploymentDetailDto })
  @ApiErrors(400, 403, 404, 503)
  async get(@Param() p: DeploymentParams, @Query() q: GetDeploymentQuery): Promise<DeploymentDetailDto> {
    return toDeploymentDetail(await this.deployments.get(p.namespace, p.name, q.consistency));
  }
}
