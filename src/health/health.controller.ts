import { Controller, Get, Header, Res } from '@nestjs/common';
import {
  ApiExcludeEndpoint,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { HealthService } from './health.service.js';

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process is up' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  healthz() {
    return this.health.liveness();
  }

  @Get('readyz')
  @ApiOperation({ summary: "Readiness: PostgreSQL and what this process's roles depend on" })
  @ApiOkResponse({
    description: 'Ready (NATS down on the API shows as degraded: intake keeps working through the outbox)',
  })
  @ApiServiceUnavailableResponse({ description: 'A dependency is down' })
  async readyz(@Res() res: Response) {
    const r = await this.health.readinessResponse();
    res.status(r.status).json(r.body);
  }

  @Get('metrics')
  @ApiExcludeEndpoint()
  @Header('Cache-Control', 'no-store')
  async metrics(@Res() res: Response) {
    res.type(this.health.metricsContentType).send(await this.health.metricsText());
  }
}
