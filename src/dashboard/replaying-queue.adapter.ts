import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { Job, Queue } from 'bullmq';
import { PROCESS_EVENT_JOB } from '../queue/queue.constants.js';

/** Replays an event from its job; false when the event cannot be replayed (it is not failed or ignored). */
export type ReplayFromJob = (job: Job) => Promise<boolean>;

/**
 * Bull Board's BullMQ adapter, with the Retry buttons (one job, or every failed job) made replays
 * for the jobs of one event. Bull Board retries by calling `retry()` on the jobs this adapter hands
 * it (`getJob` for one, `getJobs` for a page of a state): for a job that carries an event whose row
 * is failed or ignored, that call replays the event instead, as `POST /admin/events/:id/replay`
 * does (row reopened, a fresh job under a fresh id, attempts anew), and removes the retried job,
 * which would otherwise stay failed beside its replay. Any other job (a batch job, or an event that
 * is not failed: a retry finds it done and skips it) is retried as Bull Board would.
 *
 * The one place this service relies on how Bull Board retries (test/processing.e2e-spec.ts drives
 * the dashboard's own retry routes, so it breaks if Bull Board stops calling `retry()` this way).
 */
export class ReplayingQueueAdapter extends BullMQAdapter {
  constructor(
    queue: Queue,
    private readonly replay: ReplayFromJob,
  ) {
    super(queue);
  }

  override async getJob(id: string): Promise<Job | undefined> {
    const job = await super.getJob(id);
    return job ? this.replayOnRetry(job) : job;
  }

  override async getJobs(...args: Parameters<BullMQAdapter['getJobs']>): Promise<Job[]> {
    return (await super.getJobs(...args)).map((job) => this.replayOnRetry(job));
  }

  private replayOnRetry(job: Job): Job {
    if (job.name !== PROCESS_EVENT_JOB) return job;
    const retry = job.retry.bind(job);
    job.retry = async (...args: Parameters<Job['retry']>) => {
      if (!(await this.replay(job))) return retry(...args);
      await job.remove().catch(() => undefined);
    };
    return job;
  }
}
