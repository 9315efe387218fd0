import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/configuration.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { Interview } from './interview.entity.js';
import { InterviewsHealthIndicator } from './interviews.health.js';
import { InterviewMetrics, interviewMetricProviders } from './interviews.metrics.js';
import { InterviewsService } from './interviews.service.js';
import { TranscriptClient } from './transcript-client.js';

@Module({
  imports: [TypeOrmModule.forFeature([Interview]), NotificationsModule],
  providers: [
    InterviewsService,
    InterviewsHealthIndicator,
    InterviewMetrics,
    ...interviewMetricProviders,
    {
      provide: TranscriptClient,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => new TranscriptClient(config.get('transcript', { infer: true })),
    },
  ],
  exports: [InterviewsService, InterviewsHealthIndicator],
})
export class InterviewsModule {}
