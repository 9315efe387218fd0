import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AppConfig } from '../config/configuration.js';
import { HEALTH_CACHE_MS, HEALTH_CHECK_TIMEOUT_MS } from '../health/health.constants.js';
import { Interview } from './interview.entity.js';

/** Ready when the interviews table answers; reports which transcript hosts may be fetched. */
@Injectable()
export class InterviewsHealthIndicator {
  private readonly transcriptHosts: string;

  constructor(
    @InjectRepository(Interview) private readonly repo: Repository<Interview>,
    private readonly health: HealthIndicatorService,
    config: ConfigService<AppConfig, true>,
  ) {
    const allowed = config.get('transcript', { infer: true }).allowedHosts;
    this.transcriptHosts = allowed.length > 0 ? 'allowlist' : 'public-https';
  }

  check() {
    return this.health
      .check('interviews')
      .attempt(async () => {
        await this.repo.query('SELECT 1 FROM interviews LIMIT 1');
        return { transcriptHosts: this.transcriptHosts };
      })
      .withTimeout(HEALTH_CHECK_TIMEOUT_MS)
      .cacheFor(HEALTH_CACHE_MS);
  }
}
