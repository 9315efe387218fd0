import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Feedback } from './feedback.entity.js';
import { FeedbackHealthIndicator } from './feedback.health.js';
import { FeedbackService } from './feedback.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Feedback])],
  providers: [FeedbackService, FeedbackHealthIndicator],
  exports: [FeedbackService, FeedbackHealthIndicator],
})
export class FeedbackModule {}
