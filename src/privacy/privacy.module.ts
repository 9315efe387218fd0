import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module.js';
import { InboxModule } from '../inbox/inbox.module.js';
import { Erasure } from './erasure.entity.js';
import { ErasureService } from './erasure.service.js';
import { PersonalDataRegistry } from './personal-data.registry.js';
import { PrivacyKey } from './privacy-key.entity.js';
import { PrivacyMetrics, privacyMetricProviders } from './privacy.metrics.js';
import { RetentionProgress } from './retention-progress.entity.js';
import { RetentionScheduler } from './retention.scheduler.js';
import { RetentionService } from './retention.service.js';
import { SubjectAccessService } from './subject-access.service.js';
import { SubjectHashes } from './subject-hashes.js';

/**
 * The personal-data lifecycle (docs/privacy.md): erasure, subject access and retention across every
 * provider marked @HoldsPersonalData in the loaded modules (found, never imported), and the HMACs
 * that tombstones and the audit log keep instead of a subject. Loaded in every role: the front door
 * checks tombstones, the admin API erases and exports, the worker runs retention passes.
 */
@Module({
  imports: [TypeOrmModule.forFeature([Erasure, PrivacyKey, RetentionProgress]), InboxModule, AuditModule, DiscoveryModule],
  providers: [
    SubjectHashes,
    PersonalDataRegistry,
    ErasureService,
    SubjectAccessService,
    RetentionService,
    PrivacyMetrics,
    ...privacyMetricProviders,
  ],
  exports: [SubjectHashes, ErasureService, SubjectAccessService, RetentionService],
})
export class PrivacyModule {}

/** The retention pass's job scheduler: imported by the worker side only (ProcessingModule). */
@Module({
  imports: [PrivacyModule],
  providers: [RetentionScheduler],
})
export class RetentionSchedulingModule {}
