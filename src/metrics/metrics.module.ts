import { Global, Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { QueueMetrics, queueMetricProviders } from './queue.metrics.js';

/**
 * GET /metrics with Node's default process metrics and the queue depth gauge; feature modules
 * declare their own metrics. Served in every role (the worker's port too).
 */
@Global()
@Module({
  imports: [PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } })],
  providers: [QueueMetrics, ...queueMetricProviders],
  exports: [PrometheusModule],
})
export class MetricsModule {}
