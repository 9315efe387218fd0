import { ProcessorDecoratorService } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { runWithLogContext } from './log-context.js';

let installed = false;

/**
 * Runs every BullMQ job inside a log context carrying the request id of the delivery that created
 * it (ingest puts it in the job data), the event id and the job id, so the processor's and the
 * handlers' log lines can be joined to the request's. @nestjs/bullmq wraps each processor through
 * ProcessorDecoratorService.decorate, which it documents as the extension point for this.
 */
export function installJobLogContext(): void {
  if (installed) return;
  installed = true;
  const original = ProcessorDecoratorService.prototype.decorate;
  ProcessorDecoratorService.prototype.decorate = function decorate(processor) {
    const inner = original.call(this, processor) as (job: Job, ...rest: unknown[]) => unknown;
    return ((job: Job, ...rest: unknown[]) => {
      const data = (job?.data ?? {}) as { requestId?: unknown; eventId?: unknown };
      const context = {
        requestId: typeof data.requestId === 'string' ? data.requestId : undefined,
        eventId: typeof data.eventId === 'string' ? data.eventId : undefined,
        jobId: job?.id,
      };
      return runWithLogContext(context, () => inner(job, ...rest));
    }) as typeof processor;
  };
}
