import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AdminAuthModule } from './admin/admin-auth.module.js';
import { AdminModule } from './admin/admin.module.js';
import { AppConfig } from './config/configuration.js';
import { ConsoleModule } from './console/console.module.js';
import { QueueDashboardModule } from './dashboard/queue-dashboard.module.js';
import { DatabaseModule } from './database/database.module.js';
import { EmbeddedModule } from './embedded/embedded.module.js';
import { FEATURES } from './features.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ProcessingModule } from './processing/processing.module.js';
import { QueueModule } from './queue/queue.module.js';
import { TracingModule } from './tracing/tracing.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({})
export class AppModule {
  /** Wires the modules for one validated configuration (the role decides which sides run). */
  static forConfig(config: AppConfig): DynamicModule {
    const serves = config.app.role !== 'worker';
    const processes = config.app.role !== 'api';
    return {
      module: AppModule,
      imports: [
        // First, so that the embedded database (if any) is the last thing stopped at shutdown.
        EmbeddedModule.forConfig(config),
        TracingModule,
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => ({ ...config })] }),
        MetricsModule,
        DatabaseModule,
        QueueModule.forConfig(config),
        HealthModule,
        // Every role holds the features' data (an erasure from the api role reaches their tables);
        // only the worker roles process events.
        ...FEATURES,
        ...(processes ? [ProcessingModule] : []),
        ...(serves ? [WebhooksModule] : []),
        // The admin tokens' check (also for the probes' details), where there are admin tokens.
        ...(config.admin.tokens.length > 0 ? [AdminAuthModule] : []),
        // Without an admin token the admin routes do not exist (404), rather than exist unprotected.
        ...(config.admin.tokens.length > 0 && serves ? [AdminModule] : []),
        // Bull Board at /admin/queues, same rule: absent without an admin token.
        ...(config.admin.tokens.length > 0 ? [QueueDashboardModule] : []),
        // The events console at /admin/console, behind the same login: absent without an admin token.
        ...(config.admin.tokens.length > 0 ? [ConsoleModule] : []),
      ],
    };
  }
}
