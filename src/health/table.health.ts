import { Injectable, Type } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/configuration.js';
import { HEALTH_CACHE_MS, HEALTH_CHECK_TIMEOUT_MS } from './health.constants.js';
import { READINESS_ORDER, ReadinessCheck, ReadinessIndicator } from './readiness-indicator.js';

/**
 * A feature's readiness check: its table answers (`SELECT 1 FROM <table>`). `details` (evaluated
 * once) adds what the feature wants to report beside it, such as which hosts it fetches from.
 * Returns a provider class for the feature module's `providers`.
 */
export function tableReadiness(
  key: string,
  table: string,
  details: (config: ConfigService<AppConfig, true>) => Record<string, string> = () => ({}),
): Type<ReadinessCheck> {
  @ReadinessIndicator({ order: READINESS_ORDER.feature })
  @Injectable()
  class TableReadiness implements ReadinessCheck {
    private readonly details: Record<string, string>;

    constructor(
      @InjectDataSource() private readonly dataSource: DataSource,
      private readonly health: HealthIndicatorService,
      config: ConfigService<AppConfig, true>,
    ) {
      this.details = details(config);
    }

    check() {
      return this.health
        .check(key)
        .attempt(async () => {
          await this.dataSource.query(`SELECT 1 FROM ${table} LIMIT 1`);
          return this.details;
        })
        .withTimeout(HEALTH_CHECK_TIMEOUT_MS)
        .cacheFor(HEALTH_CACHE_MS);
    }
  }
  Object.defineProperty(TableReadiness, 'name', { value: `${key[0].toUpperCase()}${key.slice(1)}Readiness` });
  return TableReadiness;
}
