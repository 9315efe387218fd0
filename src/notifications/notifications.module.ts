import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { tableReadiness } from '../health/table.health.js';
import { Notification } from './notification.entity.js';
import { NotificationMetrics, notificationMetricProviders } from './notifications.metrics.js';
import { NotificationsPersonalData } from './notifications.personal-data.js';
import { NotificationRecords } from './notifications.records.js';
import { NotificationsService } from './notifications.service.js';

/** Slack notifications and the notifications table that keeps them to one per (kind, session). */
@Module({
  imports: [TypeOrmModule.forFeature([Notification])],
  providers: [
    NotificationsService,
    NotificationsPersonalData,
    NotificationRecords,
    NotificationMetrics,
    ...notificationMetricProviders,
    // Ready when the table answers; reports whether Slack is configured, without calling it.
    tableReadiness('notifications', 'notifications', (config) => ({
      slack: config.get('slack', { infer: true }).webhookUrl ? 'configured' : 'skipped',
    })),
  ],
  exports: [NotificationsService],
})
export class NotificationsModule {}
