import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { InboxAdminRepository } from './admin.repository.js';
import { InboxConsoleRepository } from './console.repository.js';
import { ErasureTombstone } from './erasure-tombstone.entity.js';
import { InboxPersonalData } from './inbox.personal-data.js';
import { InboxIngestRepository } from './ingest.repository.js';
import { InboxProcessingRepository } from './processing.repository.js';
import { InboxRecoveryRepository } from './recovery.repository.js';
import { InboxTombstonesRepository } from './tombstones.repository.js';
import { WebhookEvent } from './webhook-event.entity.js';

/**
 * The inbox table `webhook_events`, the source of truth for every accepted delivery, with one
 * repository per use: the front door, the worker, recovery and replay, the dead-letter desk, the
 * events console; its personal data (InboxPersonalData) and the erasure tombstones its INSERT
 * consults.
 */
@Module({
  imports: [TypeOrmModule.forFeature([WebhookEvent, ErasureTombstone])],
  providers: [
    InboxIngestRepository,
    InboxProcessingRepository,
    InboxRecoveryRepository,
    InboxAdminRepository,
    InboxConsoleRepository,
    InboxTombstonesRepository,
    InboxPersonalData,
  ],
  exports: [
    InboxIngestRepository,
    InboxProcessingRepository,
    InboxRecoveryRepository,
    InboxAdminRepository,
    InboxConsoleRepository,
    InboxTombstonesRepository,
  ],
})
export class InboxModule {}
