import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Above this the process is wedged rather than busy (a benchmark at full load stays far below):
 * liveness fails so that Kubernetes restarts it.
 */
const MAX_EVENT_LOOP_DELAY_MS = 5000;

/** Liveness: the event loop turns. Deliberately no dependency checks (an outage must not restart pods). */
@Injectable()
export class EventLoopHealthIndicator implements OnModuleDestroy {
  private readonly histogram = monitorEventLoopDelay({ resolution: 20 });

  constructor(private readonly health: HealthIndicatorService) {
    this.histogram.enable();
  }

  check() {
    const indicator = this.health.check('event_loop');
    // Worst delay since the previous probe.
    const maxDelayMs = Math.round(this.histogram.max / 1e6);
    this.histogram.reset();
    return maxDelayMs > MAX_EVENT_LOOP_DELAY_MS ? indicator.down({ maxDelayMs }) : indicator.up({ maxDelayMs });
  }

  onModuleDestroy(): void {
    this.histogram.disable();
  }
}
