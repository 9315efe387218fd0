import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { HEALTH_CACHE_MS, HEALTH_CHECK_TIMEOUT_MS } from '../health/health.constants.js';
import { READINESS_ORDER, ReadinessCheck, ReadinessIndicator } from '../health/readiness-indicator.js';

/** PostgreSQL answers `SELECT 1` quickly (the app connects and migrates in the background). */
@ReadinessIndicator({ order: READINESS_ORDER.database })
@Injectable()
export class DatabaseHealthIndicator implements ReadinessCheck {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly health: HealthIndicatorService,
  ) {}

  check() {
    return this.health
      .check('database')
      .attempt(async () => {
        if (!this.dataSource.isInitialized) throw new Error('not connected (retrying in the background)');
        await this.dataSource.query('SELECT 1');
      })
      .withTimeout(HEALTH_CHECK_TIMEOUT_MS)
      .cacheFor(HEALTH_CACHE_MS);
  }
}
