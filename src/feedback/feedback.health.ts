import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { HEALTH_CACHE_MS, HEALTH_CHECK_TIMEOUT_MS } from '../health/health.constants.js';
import { Feedback } from './feedback.entity.js';

/** Ready when the feedback table answers. */
@Injectable()
export class FeedbackHealthIndicator {
  constructor(
    @InjectRepository(Feedback) private readonly repo: Repository<Feedback>,
    private readonly health: HealthIndicatorService,
  ) {}

  check() {
    return this.health
      .check('feedback')
      .attempt(async () => {
        await this.repo.query('SELECT 1 FROM feedback LIMIT 1');
      })
      .withTimeout(HEALTH_CHECK_TIMEOUT_MS)
      .cacheFor(HEALTH_CACHE_MS);
  }
}
