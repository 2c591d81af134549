import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { concatMap, Observable } from 'rxjs';
import { noteRouteFacts } from '../http/call-context.js';
import { AuditService } from './audit.service.js';

/**
 * Writes the audit entry of an answered call before the answer goes out (the handler's value
 * is passed on only once the entry is written). Refusals and errors never get here: the
 * exception filter records those.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly audit: AuditService,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    noteRouteFacts(context, this.reflector);
    const http = context.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    const res = http.getResponse<FastifyReply>();
    return next.handle().pipe(
      concatMap(async (body: unknown) => {
        await this.audit.recordCall(req, res.statusCode, { body });
        return body;
      }),
    );
  }
}
