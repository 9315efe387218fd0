import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { tableReadiness } from '../health/table.health.js';
import { Feedback } from './feedback.entity.js';
import { FeedbackSubmittedHandler } from './feedback-submitted.handler.js';
import { FeedbackPersonalData } from './feedback.personal-data.js';
import { FeedbackRecords } from './feedback.records.js';

/** session.feedback_submitted: one feedback row per session. */
@Module({
  imports: [TypeOrmModule.forFeature([Feedback])],
  providers: [FeedbackSubmittedHandler, FeedbackPersonalData, FeedbackRecords, tableReadiness('feedback', 'feedback')],
})
export class FeedbackModule {}
