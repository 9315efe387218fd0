import { DefaultJobOptions, JobsOptions } from 'bullmq';
import type { QueueBackend } from '../config/configuration.js';

/**
 * The queue every accepted delivery goes through. Renaming it strands the jobs already waiting
 * under the old name (in Redis or in the PostgreSQL backend): drain the queue before a rename.
 */
export const WEBHOOKS_QUEUE = 'webhooks';

/** Job name; the event type travels in the data, so one name covers every event. */
export const PROCESS_EVENT_JOB = 'process-event';

/**
 * Job name of a batch: the first attempts of the events one ingest INSERT recorded together, so that
 * a burst costs the queue one job per batch rather than one per event. An event whose first attempt
 * does not succeed leaves the batch for a job of its own (PROCESS_EVENT_JOB, id = row id).
 */
export const PROCESS_BATCH_JOB = 'process-batch';

/**
 * Job name of a retention pass (docs/privacy.md), added by the job scheduler RETENTION_SCHEDULER once
 * per RETENTION_INTERVAL_MINUTES. Renaming either strands the scheduler already in the queue: remove
 * it first (Queue.removeJobScheduler).
 */
export const RETENTION_JOB = 'privacy-retention';
export const RETENTION_SCHEDULER = 'privacy-retention';

/** At most this many events per batch job (a crash re-runs the unfinished events of a whole batch). */
export const BATCH_JOB_MAX_EVENTS = 50;

/** What a job carries: a pointer to the inbox row, which stays the source of truth. */
export interface ProcessEventJobData {
  eventId: string;
  event: string;
  requestId?: string;
  /**
   * The W3C traceparent of the span that enqueued this attempt (tracing on only): the worker's spans
   * for the event join that trace (docs/operations.md, "Tracing"). Ids only.
   */
  traceparent?: string;
  /** Retry-After deferrals so far (they do not spend attempts; bounded on their own). */
  deferrals?: number;
  /**
   * Set on the job that stands for an event whose first attempt, in a batch, failed for good: the
   * row is already 'failed'; the job only fails with this reason, so that every dead letter is a
   * failed job on the queue dashboard too.
   */
  deadLetter?: string;
}

export interface ProcessBatchJobData {
  events: ProcessEventJobData[];
}

/** A job for one event, under the id the inbox's job-id rules give it (src/inbox/job-ids.ts). */
export interface EventJob {
  jobId: string;
  data: ProcessEventJobData;
  /** Set for an event that leaves its batch: its retry schedule continues where the batch left it. */
  opts?: Pick<JobsOptions, 'delay' | 'attempts' | 'backoff'>;
}

/** A batch job: the first attempts of the new rows of one ingest INSERT. */
export interface BatchJob {
  jobId: string;
  events: ProcessEventJobData[];
}

export function webhookJobOptions(attempts: number, backoffMs: number, backend: QueueBackend): DefaultJobOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    // Completed jobs are only bookkeeping (the inbox row records the outcome); failed ones stay a
    // week for the queue dashboard. The admin API replays from the inbox, not from these. On Redis
    // the dashboard keeps the last hour's completed jobs, at most 1,000. BullMQ's PostgreSQL backend
    // enforces such a cap by ranking every completed job of the queue at each completion, and
    // concurrent completions deadlock on the rows they trim (bench: a finish took 48 ms on average
    // instead of 2, and jobs were retried); an age alone would keep an hour of jobs, millions at a
    // steady 1,000 deliveries/s. There a completed job is deleted when it completes.
    removeOnComplete: backend === 'postgres' ? true : { age: 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}
