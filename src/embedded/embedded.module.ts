import { DynamicModule, Global, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/configuration.js';
import { DevController } from './dev.controller.js';
import { runningEmbeddedDatabase } from './local-mode.js';

/** Stops the embedded PostgreSQL once everything that talks to it has closed. */
@Injectable()
export class EmbeddedDatabaseCloser implements OnApplicationShutdown {
  private readonly logger = new Logger('LocalMode');

  async onApplicationShutdown(): Promise<void> {
    const db = runningEmbeddedDatabase();
    if (!db) return;
    await db.stop();
    this.logger.log('Embedded PostgreSQL stopped');
  }
}

/**
 * The embedded mode's pieces inside Nest. Import it FIRST in AppModule: Nest runs shutdown hooks of
 * global modules in reverse order of registration, so being registered first makes the database
 * stop last, after TypeORM and BullMQ have closed their connections.
 */
@Global()
@Module({})
export class EmbeddedModule {
  static forConfig(config: AppConfig): DynamicModule {
    return {
      module: EmbeddedModule,
      global: true,
      // The dev routes only exist in the embedded mode (never with a real DATABASE_URL, never in production).
      controllers: config.database.embedded && !config.app.production ? [DevController] : [],
      providers: [EmbeddedDatabaseCloser],
    };
  }
}
