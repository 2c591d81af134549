import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, Matches } from 'class-validator';
import { DNS_LABEL, IsDns1123Label, IsRequestId, REQUEST_ID } from '../../domain/validators.js';
import { EVENT_TYPES, type EventType } from '../event.js';

const toList = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.split(',') : value);
const toBool = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);

export class EventsQuery {
  @ApiPropertyOptional({ example: 'default', ...DNS_LABEL })
  @IsOptional()
  @IsDns1123Label()
  namespace?: string;

  @ApiPropertyOptional({ example: 'web', ...DNS_LABEL })
  @IsOptional()
  @IsDns1123Label()
  name?: string;

  @ApiPropertyOptional({ description: 'Only the events of this request', pattern: REQUEST_ID.source, maxLength: 255 })
  @IsOptional()
  @IsRequestId()
  requestId?: string;

  @ApiPropertyOptional({
    description: `Comma-separated event types: ${EVENT_TYPES.join(', ')}. Default: all.`,
    type: 'string',
    pattern: `^(${EVENT_TYPES.join('|').replaceAll('.', '\\.')})(,(${EVENT_TYPES.join('|').replaceAll('.', '\\.')}))*$`,
    example: 'request.status,request.rollout',
  })
  @IsOptional()
  @Transform(toList)
  @IsIn(EVENT_TYPES, { each: true, message: `types must be a comma-separated list of ${EVENT_TYPES.join(', ')}` })
  types?: EventType[];

  @ApiPropertyOptional({
    description:
      'Resume after this event id, for clients that cannot send the Last-Event-ID header (the header wins). ' +
      '0: from the oldest event kept.',
    type: 'string',
    pattern: '^[0-9]{1,15}$',
  })
  @IsOptional()
  @Matches(/^[0-9]{1,15}$/, { message: 'lastEventId must be an event id (a non-negative integer)' })
  lastEventId?: string;

  @ApiPropertyOptional({
    description:
      'false: send the events kept so far (from the resume point, or the oldest kept) and end. Default true.',
    type: 'boolean',
    default: true,
  })
  @IsOptional()
  @Transform(toBool)
  @IsBoolean({ message: 'follow must be true or false' })
  follow?: boolean;
}
