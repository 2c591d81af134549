import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Access, CurrentPrincipal } from '../auth/access.decorator.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { Principal } from '../domain/principal.js';
import { ApiErrors, ErrorResponseDto } from '../http/api-errors.js';
import { EventsQuery } from './dto/events.query.js';
import { EVENT_TYPES } from './event.js';
import { EventStreamsService } from './event-streams.service.js';
import { parseEventId } from './sse.js';

const STREAM_FORMAT =
  'A text/event-stream (Server-Sent Events). Each event: `id:` its id (increasing), `event:` its type ' +
  `(${EVENT_TYPES.join(', ')}), \`data:\` one line of JSON with id, type, namespace, name, requestId, at and the ` +
  "type's fields (request.status: requestId, operation, status, attempts, error; request.rollout: rollout, the " +
  'receipt; deployment.changed: rollout, generation, observedGeneration, images, replicas; deployment.deleted: uid; ' +
  'deployment.drift: drifted, drift). Comment lines (`: heartbeat`) come every EVENT_HEARTBEAT_MS. Events the ' +
  'server makes up carry no id: `reset` (the resume point is older than the retention: reload the state; the ' +
  'stream goes on from the oldest event kept) and `error` (sent last, e.g. code SlowClient when the client did ' +
  'not read fast enough). Reconnect with Last-Event-ID to resume with nothing missing or repeated.';

/** One event of the stream, as an EventSource parses it (id, event, data; data is one line of JSON). */
const SSE_EVENT_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^[0-9]+$', description: 'The event id; absent on reset and error' },
    event: { type: 'string', enum: [...EVENT_TYPES, 'reset', 'error'] },
    data: { type: 'string', description: 'One line of JSON (see the description)' },
    retry: { type: 'integer', description: 'How soon to reconnect, in ms (sent once, first)' },
  },
  required: ['data'],
};

@ApiTags('events')
@Controller('v1/events')
@Access('reader')
export class EventsController {
  constructor(private readonly streams: EventStreamsService) {}

  @Get()
  @ApiOperation({
    summary: 'Stream events (Server-Sent Events)',
    description:
      "Events of requests and Deployments in the API key's scope that match the filters. Without a resume " +
      'point the stream starts now. It ends at graceful shutdown (reconnect, with Last-Event-ID).',
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'Resume after this event id (what EventSource sends on reconnect); 0: from the oldest kept',
    schema: { type: 'string', pattern: '^[0-9]{1,15}$' },
  })
  @ApiOkResponse({
    description: STREAM_FORMAT,
    content: { 'text/event-stream': { schema: SSE_EVENT_SCHEMA } },
  })
  @ApiErrors(400, 503)
  @ApiResponse({
    status: 429,
    type: ErrorResponseDto,
    description:
      'code TooManyEventStreams: the API key holds EVENT_STREAMS_PER_KEY streams on this API process already; ' +
      'code RateLimited: too many calls in the window',
    headers: {
      'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', example: 2 } },
    },
  })
  async stream(
    @Query() q: EventsQuery,
    @Headers('last-event-id') lastEventIdHeader: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const fromHeader = parseEventId(lastEventIdHeader);
    if (fromHeader === 'invalid')
      throw new DomainError(ErrorCode.ValidationFailed, 'Last-Event-ID must be an event id (a non-negative integer)');
    const fromQuery = parseEventId(q.lastEventId);
    await this.streams.stream(reply, {
      principal,
      filter: {
        scope: principal.scope,
        namespace: q.namespace,
        name: q.name,
        requestId: q.requestId,
        types: q.types,
      },
      resumeAfter: fromHeader ?? (fromQuery === 'invalid' ? undefined : fromQuery),
      follow: q.follow ?? true,
    });
  }
}
