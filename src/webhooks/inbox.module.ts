import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { WebhookEvent } from './webhook-event.entity.js';
import { WebhookEventsService } from './webhook-events.service.js';

/** The inbox table, shared by the ingest side (WebhooksModule) and the worker side (ProcessingModule). */
@Module({
  imports: [TypeOrmModule.forFeature([WebhookEvent])],
  providers: [WebhookEventsService],
  exports: [WebhookEventsService],
})
export class InboxModule {}
