import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/access.decorator.js';
import { HealthService } from './health.service.js';

/** On the API port, open to everybody. /metrics is not here: it is on HEALTH_PORT only (health.server.ts). */
@ApiTags('operations')
@Controller()
@Public()
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
  async readyz(@Res() reply: FastifyReply) {
    const r = await this.health.readinessResponse();
    void reply.status(r.status).send(r.body);
  }
}
