import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';

/**
 * Knows whether the process is shutting down. Set by the first shutdown hook Nest runs
 * (onModuleDestroy), so readiness reports down and new deliveries get 503 before anything closes.
 */
@Injectable()
export class LifecycleService implements OnModuleDestroy {
  private readonly logger = new Logger(LifecycleService.name);
  private stopping = false;

  get shuttingDown(): boolean {
    return this.stopping;
  }

  onModuleDestroy(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.logger.log('shutting down: readiness is down, new deliveries get 503');
  }
}
