import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `batch_job_id`: the queue job that carries a row's first attempt when ingest grouped it with the
 * other rows of its INSERT (NULL: the row's own job, whose id is the row id). The sweeper and the
 * duplicate path look that job up before giving the row a job of its own. Nullable without a
 * default, so adding it rewrites nothing.
 */
export class BatchJobId1764244800000 implements MigrationInterface {
  name = 'BatchJobId1764244800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_events ADD COLUMN batch_job_id text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_events DROP COLUMN batch_job_id`);
  }
}
