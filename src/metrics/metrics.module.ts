import { Controller, Get, Global, Module, OnModuleInit, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { PrometheusController, PrometheusModule } from '@willsoto/nestjs-prometheus';
import { register } from 'prom-client';

/**
 * prom-client's default metrics include three gauges named like counters, which
 * `promtool check metrics` rejects. Their per-type siblings (nodejs_active_handles{type}, ...)
 * stay, and sum() over them gives the same totals.
 */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** The library's controller, documented (the `controller` option exists for this). */
@ApiTags('operations')
@Controller()
class MetricsController extends PrometheusController {
  @Get()
  @ApiOperation({ summary: 'Prometheus metrics' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'The text exposition format', schema: { type: 'string' } })
  override index(@Res({ passthrough: true }) response: unknown): Promise<string> {
    return super.index(response);
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
