import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/configuration.js';
import { AdminAuth } from './admin-auth.js';

/** One AdminAuth per process, so the admin API and the queue dashboard share one count of failed attempts. */
@Module({
  providers: [
    {
      provide: AdminAuth,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => new AdminAuth(config.get('admin', { infer: true }).tokens),
    },
  ],
  exports: [AdminAuth],
})
export class AdminAuthModule {}
