import { Controller, Get, Global, Headers, Module, OnModuleInit, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { PrometheusController, PrometheusModule } from '@willsoto/nestjs-prometheus';
import type { FastifyReply } from 'fastify';
import { openMetricsContentType, register } from 'prom-client';
import { openMetrics, prefersOpenMetrics } from './openmetrics.js';

/**
 * prom-client's default metrics include three gauges named like counters, which
 * `promtool check metrics` rejects. Their per-type siblings (nodejs_active_handles{type}, ...)
 * stay, and sum() over them gives the same totals.
 */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * The library's controller, documented (the `controller` option exists for this), with content
 * negotiation: the text format 0.0.4 as before unless the scraper asks for OpenMetrics, the only
 * format that carries the latency histograms' exemplars (trace ids).
 */
@ApiTags('operations')
@Controller()
class MetricsController extends PrometheusController {
  @Get()
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'The text exposition format 0.0.4; OpenMetrics 1.0.0, with trace-id exemplars on the latency histograms, when Accept prefers application/openmetrics-text (as Prometheus does).',
  })
  @ApiProduces('text/plain', 'application/openmetrics-text')
  @ApiOkResponse({ description: 'The text exposition format, or OpenMetrics', schema: { type: 'string' } })
  override index(@Res({ passthrough: true }) response: unknown, @Headers('accept') accept?: string): Promise<string> {
    void (response as FastifyReply).header('vary', 'Accept');
    if (!prefersOpenMetrics(accept)) return super.index(response);
    void (response as FastifyReply).header('content-type', openMetricsContentType);
    return openMetrics(register);
  }
}

/**
 * GET /metrics with Node's default process metrics; every module declares its own metrics
 * (makeCounterProvider and the like). Served in every role (the worker's port too).
 */
@Global()
@Module({
  imports: [PrometheusModule.register({ path: '/metrics', controller: MetricsController, defaultMetrics: { enabled: true } })],
  exports: [PrometheusModule],
})
export class MetricsModule implements OnModuleInit {
  onModuleInit(): void {
    for (const name of MISNAMED_DEFAULT_METRICS) register.removeSingleMetric(name);
  }
}
