import { Module } from '@nestjs/common';
import { EventHub } from './event-hub.js';
import { EventNotificationsRepository } from './event-notifications.repository.js';
import { EventsRepository } from './events.repository.js';

/** The event log's follower for this API process (one LISTEN session), shared by streams and long-polls. */
@Module({
  providers: [EventsRepository, EventNotificationsRepository, EventHub],
  exports: [EventHub, EventsRepository],
})
export class EventsModule {}
