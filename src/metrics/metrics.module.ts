import { Global, Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';

/** GET /metrics with Node's default process metrics; feature modules declare their own metrics. */
@Global()
@Module({
  imports: [PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } })],
  exports: [PrometheusModule],
})
export class MetricsModule {}
