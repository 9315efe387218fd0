import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { Job, Queue } from 'bullmq';
import { AdminService, BulkReplayResult, ReplayResult } from '../admin/admin.service.js';
import { AuditLog } from '../audit/audit-log.service.js';
import { errorText } from '../common/storable.js';
import { withTimeout } from '../common/with-timeout.js';
import { ListsSessionRecords, SessionRecord, SessionRecordsReader } from '../events/session-records.js';
import {
  BrowsePage,
  BrowseOptions,
  ConsoleEventDetail,
  InboxConsoleRepository,
  InboxOverview,
  StatusCounts,
} from '../inbox/console.repository.js';
import { InboxFilter } from '../inbox/event-filter.js';
import { WEBHOOKS_QUEUE } from '../queue/queue.constants.js';

/** At most this many dead letters are replayed by one bulk replay (as the admin API's). */
export const MAX_BULK_REPLAY = 1000;
const QUEUE_TIMEOUT_MS = 2000;
/** The overview is read at most this often per process, however many people keep it open. */
const OVERVIEW_TTL_MS = 5000;

/** A queue job that carried an event, as the event page shows it. */
export interface JobView {
  id: string;
  /** `own`: the event's job under its row id; `replay`: the one it was reopened under; `batch`: its first attempt's. */
  role: 'own' | 'replay' | 'batch';
  state: string;
  attemptsMade: number;
  /** The message of each failed attempt, oldest first (as far as the queue kept them). */
  errors: string[];
  failedReason?: string;
  processedOn?: Date;
  finishedOn?: Date;
}

export type JobsOfEvent = { jobs: JobView[] } | { unavailable: string };

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

export interface Overview extends InboxOverview {
  queue: QueueCounts | { unavailable: string };
  at: Date;
}

/** What the events console reads and does, over the inbox, the queue, the features' records and the desk. */
@Injectable()
export class ConsoleService implements OnModuleInit {
  private readonly logger = new Logger(ConsoleService.name);
  private readers: Array<{ name: string; reader: SessionRecordsReader }> = [];
  private overviewCache?: { at: number; value: Promise<Overview> };

  constructor(
    private readonly inbox: InboxConsoleRepository,
    private readonly admin: AdminService,
    private readonly audit: AuditLog,
    private readonly discovery: DiscoveryService,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
  ) {}

  onModuleInit(): void {
    this.readers = this.discovery
      .getProviders({ metadataKey: ListsSessionRecords.KEY })
      .map((wrapper) => ({
        name: this.discovery.getMetadataByDecorator(ListsSessionRecords, wrapper)!.name,
        reader: wrapper.instance as SessionRecordsReader,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  browse(filter: InboxFilter, opts: BrowseOptions): Promise<BrowsePage> {
    return this.inbox.browse(filter, opts);
  }

  statusCounts(): Promise<StatusCounts> {
    return this.inbox.statusCounts();
  }

  event(id: string): Promise<ConsoleEventDetail | null> {
    return this.inbox.findById(id);
  }

  /** The records each feature keeps for the session, by feature. */
  async records(sessionId: string): Promise<Array<{ name: string; records: SessionRecord[] }>> {
    return Promise.all(this.readers.map(async ({ name, reader }) => ({ name, records: await reader.recordsOf(sessionId) })));
  }

  /** The jobs that carried (or carry) the event, with each failed attempt's error, as far as the queue keeps them. */
  async jobs(event: ConsoleEventDetail): Promise<JobsOfEvent> {
    const ids: Array<[string, JobView['role']]> = [[event.id, 'own']];
    if (event.job_id) ids.push([event.job_id, 'replay']);
    if (event.batch_job_id) ids.push([event.batch_job_id, 'batch']);
    try {
      const found = await withTimeout(
        Promise.all(ids.map(async ([id, role]) => ({ role, job: (await this.queue.getJob(id)) as Job | undefined }))),
        QUEUE_TIMEOUT_MS,
        () => new Error(`the queue did not answer within ${QUEUE_TIMEOUT_MS} ms`),
      );
      const jobs = await Promise.all(
        found
          .filter((f): f is { role: JobView['role']; job: Job } => f.job !== undefined)
          .map(async ({ role, job }) => ({
            id: String(job.id),
            role,
            state: await job.getState(),
            attemptsMade: job.attemptsMade,
            errors: (job.stacktrace ?? []).map((trace) => String(trace).split('\n')[0]),
            failedReason: job.failedReason || undefined,
            processedOn: job.processedOn ? new Date(job.processedOn) : undefined,
            finishedOn: job.finishedOn ? new Date(job.finishedOn) : undefined,
          })),
      );
      return { jobs };
    } catch (err) {
      return { unavailable: errorText(err, 300) };
    }
  }

  replay(id: string): Promise<ReplayResult> {
    return this.admin.replay(id);
  }

  countDeadLetters(filter: InboxFilter): Promise<number> {
    return this.inbox.countDeadLetters(filter, MAX_BULK_REPLAY);
  }

  replayDeadLetters(filter: InboxFilter): Promise<BulkReplayResult> {
    return this.admin.replayDeadLetters(filter, MAX_BULK_REPLAY);
  }

  /** The operator asked to see an event's payload unmasked: audited before it is shown. */
  recordReveal(id: string): Promise<void> {
    return this.audit.record({ action: 'event.reveal', target: id });
  }

  overview(): Promise<Overview> {
    const now = Date.now();
    if (!this.overviewCache || now - this.overviewCache.at > OVERVIEW_TTL_MS) {
      const value = this.readOverview();
      this.overviewCache = { at: now, value };
      value.catch(() => (this.overviewCache = undefined));
    }
    return this.overviewCache.value;
  }

  private async readOverview(): Promise<Overview> {
    const [inbox, queue] = await Promise.all([this.inbox.overview(), this.queueCounts()]);
    return { ...inbox, queue, at: new Date() };
  }

  private async queueCounts(): Promise<QueueCounts | { unavailable: string }> {
    try {
      const counts = await withTimeout(
        this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'),
        QUEUE_TIMEOUT_MS,
        () => new Error(`the queue did not answer within ${QUEUE_TIMEOUT_MS} ms`),
      );
      return {
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        failed: counts.failed ?? 0,
      };
    } catch (err) {
      this.logger.warn(`overview: queue counts unavailable: ${errorText(err, 200)}`);
      return { unavailable: errorText(err, 300) };
    }
  }
}
