import { Body, Controller, Get, HttpCode, Post, Query, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Access } from '../auth/access.decorator.js';
import { ApiErrors } from '../http/api-errors.js';
import { AuditService } from './audit.service.js';
import { AuditPageDto, AuditQuery, PurgeAuditDto, PurgeResultDto, toAuditEntryDto } from './dto/audit.dto.js';

@ApiTags('audit')
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Access('admin')
  @ApiOperation({
    summary: 'Read the audit trail, newest first',
    description: 'Every non-GET call, every admin call and every 401, 403 and 429, answered or refused.',
  })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiErrors(400, 503)
  async list(@Query() q: AuditQuery): Promise<AuditPageDto> {
    const page = await this.audit.list({ ...q, since: q.since === undefined ? undefined : new Date(q.since) });
    return { items: page.items.map(toAuditEntryDto), nextCursor: page.nextCursor };
  }

  @Post('purge')
  @HttpCode(200)
  @Access('admin')
  @ApiOperation({
    summary: 'Delete audit entries older than a number of days (at least 1)',
    description: 'The only way entries leave audit_log; this call is audited itself, with its cut-off and count.',
  })
  @ApiOkResponse({ type: PurgeResultDto })
  @ApiErrors(400, 503)
  async purge(@Body() body: PurgeAuditDto, @Req() req: FastifyRequest): Promise<PurgeResultDto> {
    const { deleted, before } = await this.audit.purge(body.olderThanDays);
    AuditService.addDetails(req, { olderThanDays: body.olderThanDays, deleted, before: before.toISOString() });
    return { deleted, before: before.toISOString() };
  }
}
