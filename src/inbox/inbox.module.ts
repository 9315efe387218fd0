import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { InboxAdminRepository } from './admin.repository.js';
import { InboxIngestRepository } from './ingest.repository.js';
import { InboxProcessingRepository } from './processing.repository.js';
import { InboxRecoveryRepository } from './recovery.repository.js';
import { WebhookEvent } from './webhook-event.entity.js';

/**
 * The inbox table `webhook_events`, the source of truth for every accepted delivery, with one
 * repository per use: the front door, the worker, recovery and replay, the dead-letter desk.
 */
@Module({
  imports: [TypeOrmModule.forFeature([WebhookEvent])],
  providers: [InboxIngestRepository, InboxProcessingRepository, InboxRecoveryRepository, InboxAdminRepository],
  exports: [InboxIngestRepository, InboxProcessingRepository, InboxRecoveryRepository, InboxAdminRepository],
})
export class InboxModule {}
