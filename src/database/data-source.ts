import 'reflect-metadata';
import { DataSource, DataSourceOptions } from 'typeorm';
import { WebhookEvent } from '../webhooks/webhook-event.entity.js';
import { Interview } from '../interviews/interview.entity.js';
import { Feedback } from '../feedback/feedback.entity.js';
import { Notification } from '../notifications/notification.entity.js';
import { Init1764230400000 } from './migrations/1764230400000-init.js';
import { BatchJobId1764244800000 } from './migrations/1764244800000-batch-job-id.js';
import { UnambiguousKey1796083200000 } from './migrations/1796083200000-unambiguous-key.js';

export const entities = [WebhookEvent, Interview, Feedback, Notification];
// Listed explicitly (not a glob) so the same list works from ts-jest, ts-node and dist/.
export const migrations = [Init1764230400000, BatchJobId1764244800000, UnambiguousKey1796083200000];

export function dataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'migrations',
    uuidExtension: 'pgcrypto',
    // The ingest path batches, so a small pool goes far; workers share it.
    extra: { max: 20, connectionTimeoutMillis: 5000 },
  };
}

/** Used by the TypeORM CLI (npm run migration:run); the app builds its own from validated config. */
export default new DataSource(dataSourceOptions(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'));
