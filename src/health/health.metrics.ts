import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectMetric, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import { Gauge } from 'prom-client';
import { AppConfig } from '../config/configuration.js';
import { ReadinessService } from './readiness.service.js';

export const APP_READY = 'app_ready';
export const APP_INFO = 'app_info';

export const healthMetricProviders = [
  makeGaugeProvider({ name: APP_READY, help: '1 when GET /health/ready would answer 200, else 0 (evaluated on scrape)' }),
  makeGaugeProvider({ name: APP_INFO, help: 'Always 1; labels say which role this process runs', labelNames: ['role'] }),
];

/** Exposes readiness as a metric, so Prometheus can alert on it (up only says the process answers). */
@Injectable()
export class HealthMetrics {
  constructor(
    @InjectMetric(APP_READY) ready: Gauge,
    @InjectMetric(APP_INFO) info: Gauge<'role'>,
    readiness: ReadinessService,
    config: ConfigService<AppConfig, true>,
  ) {
    info.set({ role: config.get('app', { infer: true }).role }, 1);
    // prom-client awaits collect() on every scrape.
    (ready as unknown as { collect: () => Promise<void> }).collect = async () => {
      ready.set((await readiness.isReady()) ? 1 : 0);
    };
  }
}
