import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { plainToInstance } from 'class-transformer';
import { IsString, Length, validateSync } from 'class-validator';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { REQUEST_CONSUMER } from '../messaging/jetstream-topology.js';
import { RequestProcessor, type RetryLater } from './request-processor.js';

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

/**
 * Handles the request consumer's messages: done (undefined), still open (RetryLater), or a
 * DomainError. The JetStream transport decides what that means for the message.
 */
@Controller()
export class RequestMessageHandler {
  constructor(private readonly processor: RequestProcessor) {}

  @EventPattern(REQUEST_CONSUMER)
  handle(payload: unknown): Promise<RetryLater | undefined> {
    return this.processor.process(RequestMessage.parse(payload).requestId);
  }
}
