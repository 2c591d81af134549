import { Module } from '@nestjs/common';
import { EventStreamsService } from './event-streams.service.js';
import { EventsController } from './events.controller.js';
import { EventsModule } from './events.module.js';

/** GET /v1/events (API role). */
@Module({
  imports: [EventsModule],
  controllers: [EventsController],
  providers: [EventStreamsService],
})
export class EventsApiModule {}
