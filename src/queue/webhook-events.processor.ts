import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Job, UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { AppConfig } from '../config/configuration.js';
import { isKnownEvent, KNOWN_EVENTS, validateDelivery } from '../webhooks/webhook-payload.js';
import { WebhookEventsService } from '../webhooks/webhook-events.service.js';
import { EVENT_HANDLERS, EventHandler, PermanentFailure } from './event-handler.js';
import { ProcessEventJobData, WEBHOOKS_QUEUE } from './queue.constants.js';

const jobDataSchema = z.object({ eventId: z.uuid(), event: z.string().min(1), requestId: z.string().optional() });

export type JobOutcome = 'processed' | 'ignored' | 'skipped';

/**
 * The one worker on the webhooks queue: claims the inbox row, dispatches on its event type and
 * records the outcome on the row. Handlers must be idempotent: a job may run again after a crash.
 */
@Processor(WEBHOOKS_QUEUE)
export class WebhookEventsProcessor extends WorkerHost implements OnModuleInit {
  private readonly logger = new Logger(WebhookEventsProcessor.name);
  private readonly handlers = new Map<string, EventHandler>();

  constructor(
    private readonly inbox: WebhookEventsService,
    private readonly config: ConfigService<AppConfig, true>,
    @Inject(EVENT_HANDLERS) handlers: EventHandler[],
  ) {
    super();
    for (const h of handlers) this.handlers.set(h.event, h);
  }

  onModuleInit(): void {
    const missing = KNOWN_EVENTS.filter((e) => !this.handlers.has(e));
    if (missing.length > 0) throw new Error(`No handler registered for event type(s): ${missing.join(', ')}`);
    this.worker.concurrency = this.config.get('queue', { infer: true }).concurrency;
  }

  async process(job: Job<ProcessEventJobData>): Promise<JobOutcome> {
    const data = jobDataSchema.safeParse(job.data);
    if (!data.success) throw new UnrecoverableError(`invalid job data: ${data.error.issues[0]?.message}`);
    const { eventId, requestId } = data.data;

    const row = await this.inbox.markProcessing(eventId);
    if (!row) return 'skipped'; // already processed, ignored or failed, or gone

    try {
      const delivery = validateDelivery(row.payload);
      if (!delivery.ok) throw new PermanentFailure(`invalid payload: ${delivery.message}`);
      const { event, sessionId, payload } = delivery.value;
      if (!isKnownEvent(event) || !this.handlers.has(event)) {
        await this.inbox.markProcessed(eventId, 'ignored');
        return 'ignored';
      }
      await this.handlers.get(event)!.handle({ eventId, event, sessionId, payload, requestId });
      await this.inbox.markProcessed(eventId);
      return 'processed';
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      const attempts = job.opts.attempts ?? 1;
      const permanent = err instanceof PermanentFailure;
      if (permanent || job.attemptsMade + 1 >= attempts) {
        this.logger.warn(`event ${eventId} (${row.event}) failed for good: ${message}`);
        await this.inbox.markFailed(eventId, message);
        if (permanent) throw new UnrecoverableError(message);
        throw err;
      }
      this.logger.warn(`event ${eventId} (${row.event}) attempt ${job.attemptsMade + 1}/${attempts} failed, will retry: ${message}`);
      await this.inbox.recordAttemptError(eventId, message).catch(() => undefined);
      throw err;
    }
  }
}
