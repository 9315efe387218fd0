import { z } from 'zod';
import { BATCH_JOB_MAX_EVENTS } from '../queue/queue.constants.js';

/** A job's data as the worker trusts it: queue payloads skip the HTTP pipes, so they are validated too. */
export const eventJobDataSchema = z.object({
  eventId: z.uuid(),
  event: z.string().min(1),
  requestId: z.string().optional(),
  traceparent: z.string().max(64).optional(),
  deferrals: z.number().int().min(0).optional(),
});
export type EventJobData = z.infer<typeof eventJobDataSchema>;

export const batchJobDataSchema = z.object({
  events: z
    .array(eventJobDataSchema)
    .min(1)
    .max(10 * BATCH_JOB_MAX_EVENTS),
});

/** What one attempt at an event came to: 'skipped' when its row was already final. */
export type AttemptOutcome = 'processed' | 'ignored' | 'skipped';
