import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig, pgConnection } from '../config/configuration.js';
import { dataSourceOptions } from './data-source.js';
import { DatabaseLifecycle } from './database.lifecycle.js';
import { DatabaseHealthIndicator } from './database.health.js';
import { SqlStatements } from './sql-statements.js';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => ({
        ...dataSourceOptions(pgConnection(config.get('database', { infer: true }))),
        // Each feature module registers its entities (TypeOrmModule.forFeature).
        autoLoadEntities: true,
        // Connected by DatabaseLifecycle, in the background: the process must boot and answer its
        // probes (and 503 deliveries) while PostgreSQL is down, not crash-loop.
        manualInitialization: true,
      }),
      dataSourceFactory: (options) => Promise.resolve(new DataSource(options!)),
    }),
  ],
  providers: [DatabaseLifecycle, SqlStatements, DatabaseHealthIndicator],
  exports: [DatabaseLifecycle, SqlStatements],
})
export class DatabaseModule {}
