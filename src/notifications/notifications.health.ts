import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AppConfig } from '../config/configuration.js';
import { HEALTH_CACHE_MS, HEALTH_CHECK_TIMEOUT_MS } from '../health/health.constants.js';
import { Notification } from './notification.entity.js';

/**
 * Ready when the notifications table answers. Slack itself is not called from a probe (a Slack
 * outage must not take the worker out of service: notifications retry); the mode is reported.
 */
@Injectable()
export class NotificationsHealthIndicator {
  private readonly slack: 'configured' | 'skipped';

  constructor(
    @InjectRepository(Notification) private readonly repo: Repository<Notification>,
    private readonly health: HealthIndicatorService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.slack = config.get('slack', { infer: true }).webhookUrl ? 'configured' : 'skipped';
  }

  check() {
    return this.health
      .check('notifications')
      .attempt(async () => {
        await this.repo.query('SELECT 1 FROM notifications LIMIT 1');
        return { slack: this.slack };
      })
      .withTimeout(HEALTH_CHECK_TIMEOUT_MS)
      .cacheFor(HEALTH_CACHE_MS);
  }
}
