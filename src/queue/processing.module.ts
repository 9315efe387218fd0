import { Module } from '@nestjs/common';
import { FeedbackModule } from '../feedback/feedback.module.js';
import { FeedbackService } from '../feedback/feedback.service.js';
import { InterviewsModule } from '../interviews/interviews.module.js';
import { InterviewsService } from '../interviews/interviews.service.js';
import { InboxModule } from '../webhooks/inbox.module.js';
import { EVENT_HANDLERS, EventHandler } from './event-handler.js';
import { ProcessingMetrics, processingMetricProviders } from './processing.metrics.js';
import { StaleEventsSweeper } from './stale-events.sweeper.js';
import { WebhookEventsProcessor } from './webhook-events.processor.js';

/**
 * The worker side: the processor, the handler map and the stale-row sweeper. Loaded for
 * APP_ROLE=worker and all. NotificationsModule is reached through InterviewsModule (the handler
 * that notifies).
 */
@Module({
  imports: [InboxModule, InterviewsModule, FeedbackModule],
  providers: [
    WebhookEventsProcessor,
    StaleEventsSweeper,
    ProcessingMetrics,
    ...processingMetricProviders,
    {
      provide: EVENT_HANDLERS,
      inject: [InterviewsService, FeedbackService],
      useFactory: (...handlers: EventHandler[]) => handlers,
    },
  ],
})
export class ProcessingModule {}
