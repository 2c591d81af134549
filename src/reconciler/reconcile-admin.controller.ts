import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator.js';
import { ApiErrors } from '../http/api-errors.js';
import { PageQuery } from '../http/pagination.js';
import {
  ReconcileAcceptedDto,
  ReconcileRunDto,
  ReconcileRunPageDto,
  ReconcileRunParams,
  toReconcileRunDto,
} from './dto/reconcile-run.dto.js';
import { ReconcileAdminService } from './reconcile-admin.service.js';

@ApiTags('admin')
@Controller('v1/admin')
@Access('admin')
export class ReconcileAdminController {
  constructor(private readonly admin: ReconcileAdminService) {}

  @Post('reconcile')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Ask a reconciler for a pass now',
    description:
      'The API makes no Kubernetes calls: it asks the reconciler role over NATS. While a pass is running (scheduled ' +
      'or manual), the answer names that pass with alreadyRunning: true instead of starting or queueing another, ' +
      'so any number of triggers yields one pass at a time.',
  })
  @ApiAcceptedResponse({ type: ReconcileAcceptedDto })
  @ApiErrors(503)
  trigger(): Promise<ReconcileAcceptedDto> {
    return this.admin.trigger();
  }

  @Get('reconcile-runs')
  @ApiOperation({ summary: 'List reconcile passes, newest first' })
  @ApiOkResponse({ type: ReconcileRunPageDto })
  @ApiErrors(400, 503)
  async list(@Query() q: PageQuery): Promise<ReconcileRunPageDto> {
    const page = await this.admin.list(q.limit ?? 50, q.cursor);
    return { items: page.items.map(toReconcileRunDto), nextCursor: page.nextCursor };
  }

  @Get('reconcile-runs/:id')
  @ApiOperation({ summary: 'Get one reconcile pass' })
  @ApiOkResponse({ type: ReconcileRunDto })
  @ApiErrors(400, 404, 503)
  async get(@Param() { id }: ReconcileRunParams): Promise<ReconcileRunDto> {
    return toReconcileRunDto(await this.admin.get(Number(id)));
  }
}
