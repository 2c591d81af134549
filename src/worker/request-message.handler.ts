import { Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { IsString, Length, validateSync } from 'class-validator';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { JetStreamHandler, type HandlerResult } from '../messaging/jetstream-handler.decorator.js';
import { RequestProcessor } from './request-processor.js';

/** The message body: the id of a request recorded in PostgreSQL. */
export class RequestMessage {
  @IsString()
  @Length(1, 255)
  requestId!: string;

  static parse(payload: unknown): RequestMessage {
    const msg = plainToInstance(RequestMessage, payload ?? {});
    const errors = validateSync(msg);
    if (errors.length)
      throw new DomainError(ErrorCode.ValidationFailed, `bad request message: ${errors.map(String).join('; ')}`);
    return msg;
  }
}

@Injectable()
export class RequestMessageHandler {
  constructor(private readonly processor: RequestProcessor) {}

  @JetStreamHandler()
  handle(payload: unknown): Promise<HandlerResult> {
    return this.processor.process(RequestMessage.parse(payload).requestId);
  }
}
