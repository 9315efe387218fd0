import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Notification } from './notification.entity.js';
import { NotificationsHealthIndicator } from './notifications.health.js';
import { NotificationMetrics, notificationMetricProviders } from './notifications.metrics.js';
import { NotificationsService } from './notifications.service.js';

/** Slack notifications and the notifications table that keeps them to one per (kind, session). */
@Module({
  imports: [TypeOrmModule.forFeature([Notification])],
  providers: [NotificationsService, NotificationsHealthIndicator, NotificationMetrics, ...notificationMetricProviders],
  exports: [NotificationsService, NotificationsHealthIndicator],
})
export class NotificationsModule {}
