import { DefaultJobOptions } from 'bullmq';

/**
 * The queue every accepted delivery goes through. Renaming it strands the jobs already waiting
 * under the old name (in Redis or in the PostgreSQL backend): drain the queue before a rename.
 */
export const WEBHOOKS_QUEUE = 'webhooks';

/** Job name; the event type travels in the data, so one name covers every event. */
export const PROCESS_EVENT_JOB = 'process-event';

/** What a job carries: a pointer to the inbox row, which stays the source of truth. */
export interface ProcessEventJobData {
  eventId: string;
  event: string;
  requestId?: string;
}

export function webhookJobOptions(attempts: number, backoffMs: number): DefaultJobOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    // Completed jobs are only bookkeeping (the inbox row records the outcome); failed ones stay a
    // week for the queue dashboard. The admin API replays from the inbox, not from these.
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}
