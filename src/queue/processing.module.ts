import { Module } from '@nestjs/common';
import { FeedbackModule } from '../feedback/feedback.module.js';
import { FeedbackService } from '../feedback/feedback.service.js';
import { InterviewsModule } from '../interviews/interviews.module.js';
import { InterviewsService } from '../interviews/interviews.service.js';
import { InboxModule } from '../webhooks/inbox.module.js';
import { EVENT_HANDLERS, EventHandler } from './event-handler.js';
import { WebhookEventsProcessor } from './webhook-events.processor.js';

/** The worker side: the processor and the handler map. Loaded for APP_ROLE=worker and all. */
@Module({
  imports: [InboxModule, InterviewsModule, FeedbackModule],
  providers: [
    WebhookEventsProcessor,
    {
      provide: EVENT_HANDLERS,
      inject: [InterviewsService, FeedbackService],
      useFactory: (...handlers: EventHandler[]) => handlers,
    },
  ],
})
export class ProcessingModule {}
