import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/configuration.js';
import { tableReadiness } from '../health/table.health.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { PrivacyModule } from '../privacy/privacy.module.js';
import { InterviewCompletedHandler } from './interview-completed.handler.js';
import { Interview } from './interview.entity.js';
import { InterviewsPersonalData } from './interviews.personal-data.js';
import { InterviewRecords } from './interviews.records.js';
import { InterviewMetrics, interviewMetricProviders } from './interviews.metrics.js';
import { TranscriptClient } from './transcript-client.js';

/** interview.completed: the transcript download, the interviews table, then a notification. */
@Module({
  imports: [TypeOrmModule.forFeature([Interview]), NotificationsModule, PrivacyModule],
  providers: [
    InterviewCompletedHandler,
    InterviewsPersonalData,
    InterviewRecords,
    InterviewMetrics,
    ...interviewMetricProviders,
    {
      provide: TranscriptClient,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => new TranscriptClient(config.get('transcript', { infer: true })),
    },
    // Ready when the table answers; also says which hosts transcripts may come from.
    tableReadiness('interviews', 'interviews', (config) => ({
      transcriptHosts: config.get('transcript', { infer: true }).allowedHosts.length > 0 ? 'allowlist' : 'public-https',
    })),
  ],
})
export class InterviewsModule {}
