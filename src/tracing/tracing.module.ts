import { Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { stopTracing } from './start-tracing.js';

/** Exports the spans still buffered when the application stops (nothing without tracing). */
@Injectable()
export class TracingShutdown implements OnApplicationShutdown {
  async onApplicationShutdown(): Promise<void> {
    await stopTracing();
  }
}

@Module({ providers: [TracingShutdown] })
export class TracingModule {}
