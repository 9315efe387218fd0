import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectMetric, makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { Queue, RedisQueueBackend, type Worker } from 'bullmq';
import { Counter } from 'prom-client';
import { AppConfig } from '../config/configuration.js';
import { WEBHOOKS_QUEUE } from './queue.constants.js';
import { QueueWorker } from './queue-worker.js';
import { isStalled, WorkerObservation } from './worker-stall.js';

export const WORKER_RESTARTS = 'webhook_queue_worker_restarts_total';

export const workerWatchdogProviders = [
  makeCounterProvider({
    name: WORKER_RESTARTS,
    help: 'Workers the watchdog restarted: jobs waited, none was taken for WORKER_WATCHDOG_MS, and the blocking Redis connection was not ready or nothing ran',
  }),
];

/** The part of ioredis the watchdog uses on the blocking connection. */
interface BlockingClient {
  status: string;
  disconnect(reconnect?: boolean): void;
}

/**
 * Watches this process's worker (worker and all roles, Redis backend) and restarts a stalled one: its
 * blocking connection is dropped and made again (Sentinel is asked for the primary anew), and its run
 * loop is started again if it ended. One warning line and WORKER_RESTARTS per restart. Readiness reads
 * `blockingStatus` and `stalled`.
 */
@Injectable()
export class WorkerWatchdog implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WorkerWatchdog');
  private readonly thresholdMs: number;
  private readonly enabled: boolean;
  private worker?: Worker;
  private blocking?: BlockingClient;
  private lastProgressAt = Date.now();
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private started = false;
  /** True from a stalled observation until the worker takes a job again. */
  stalled = false;

  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
    private readonly queueWorker: QueueWorker,
    @InjectMetric(WORKER_RESTARTS) private readonly restarts: Counter,
    config: ConfigService<AppConfig, true>,
  ) {
    const queueConfig = config.get('queue', { infer: true });
    this.thresholdMs = queueConfig.watchdogMs;
    this.enabled = queueConfig.backend === 'redis' && queueConfig.watchdogMs > 0 && config.get('app', { infer: true }).role !== 'api';
  }

  /** The blocking connection's status; undefined when the worker has none (yet) or does not run on Redis. */
  get blockingStatus(): string | undefined {
    return this.blocking?.status;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.queueWorker.onRegistered((worker) => {
      this.worker = worker;
      this.lastProgressAt = Date.now();
      worker.on('active', () => {
        this.inFlight++;
        this.lastProgressAt = Date.now();
        this.stalled = false;
      });
      const settled = () => {
        if (this.inFlight > 0) this.inFlight--;
      };
      worker.on('completed', settled);
      worker.on('failed', settled);
      const backend = worker.getBackend();
      if (backend instanceof RedisQueueBackend)
        void backend.blockingClient?.then(
          (client) => (this.blocking = client as unknown as BlockingClient),
          () => undefined,
        );
    });
    this.timer = setInterval(() => void this.tick(), Math.max(250, Math.min(this.thresholdMs / 3, 5000)));
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    const worker = this.worker;
    if (!worker || worker.closing) return;
    // The processor starts the run loop once the database answers; nothing to watch before that.
    if (!this.started) {
      if (!worker.isRunning()) return;
      this.started = true;
      this.lastProgressAt = Date.now();
    }
    const waiting = await this.queue.getWaitingCount().catch(() => undefined);
    const observation: WorkerObservation = {
      now: Date.now(),
      lastProgressAt: this.lastProgressAt,
      waiting,
      inFlight: this.inFlight,
      blockingStatus: this.blocking?.status,
      paused: worker.isPaused(),
    };
    if (!isStalled(observation, this.thresholdMs)) return;
    this.stalled = true;
    this.restarts.inc();
    this.logger.warn(
      `worker ${worker.name} took no job for ${Math.round((observation.now - observation.lastProgressAt) / 1000)} s while ${waiting} waited (blocking connection ${observation.blockingStatus ?? 'missing'}, ${observation.inFlight} in progress): restarting it`,
    );
    this.lastProgressAt = observation.now; // one restart per threshold, not one per tick
    this.inFlight = 0;
    // Drop the blocking connection: its BZPOPMIN fails at once and ioredis connects again (through
    // the sentinels, to the current primary). A run loop that ended is started again.
    this.blocking?.disconnect(true);
    if (!worker.isRunning() && !worker.closing)
      worker.run().catch((err: Error) => this.logger.warn(`worker ${worker.name} did not restart: ${err.message}`));
  }
}
