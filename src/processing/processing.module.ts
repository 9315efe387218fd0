import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { InboxModule } from '../inbox/inbox.module.js';
import { PrivacyModule, RetentionSchedulingModule } from '../privacy/privacy.module.js';
import { BatchJobs } from './batch-jobs.js';
import { EventDispatcher } from './event-dispatcher.js';
import { EventRunner } from './event-runner.js';
import { ProcessingMetrics, processingMetricProviders } from './processing.metrics.js';
import { StaleEventsSweeper } from './stale-events.sweeper.js';
import { WebhookEventsProcessor } from './webhook-events.processor.js';

/**
 * The worker side (APP_ROLE=worker and all): the processor, its dispatch to the event handlers of
 * the loaded feature modules (found by @HandlesEvent, never imported here), and the stale-row sweeper.
 */
@Module({
  imports: [InboxModule, DiscoveryModule, PrivacyModule, RetentionSchedulingModule],
  providers: [
    WebhookEventsProcessor,
    EventRunner,
    BatchJobs,
    EventDispatcher,
    StaleEventsSweeper,
    ProcessingMetrics,
    ...processingMetricProviders,
  ],
})
export class ProcessingModule {}
