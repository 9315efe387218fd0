import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Optional } from '@nestjs/common';
import { InjectMetric, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Queue } from 'bullmq';
import { Gauge } from 'prom-client';
import { withTimeout } from '../common/with-timeout.js';
import { WEBHOOKS_QUEUE } from './queue.constants.js';
import { RedisTopologyProbe } from './redis-topology.probe.js';

export const QUEUE_JOBS = 'webhook_queue_jobs';
export const REDIS_INFO = 'webhook_queue_redis_info';
const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
// A scrape must not hang on a dead backend: no answer in this time, no samples this scrape.
const COLLECT_TIMEOUT_MS = 1000;

export const queueMetricProviders = [
  makeGaugeProvider({
    name: QUEUE_JOBS,
    help: 'Jobs in the queue by state (waiting, active, delayed, failed = dead letters kept for review), read on scrape',
    labelNames: ['queue', 'state'],
  }),
  makeGaugeProvider({
    name: REDIS_INFO,
    help: "1 for the queue's Redis topology (single, sentinel, cluster) and the node answering (the primary, or the cluster node of the queue's slot), read on scrape; absent while Redis does not answer or is the wrong kind",
    labelNames: ['topology', 'node'],
  }),
];

/** Counts the queue's jobs on every scrape (one cheap backend call; absent while the backend is down). */
@Injectable()
export class QueueMetrics {
  constructor(
    @InjectMetric(QUEUE_JOBS) private readonly gauge: Gauge<'queue' | 'state'>,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
    @InjectMetric(REDIS_INFO) private readonly info: Gauge<'topology' | 'node'>,
    @Optional() private readonly probe?: RedisTopologyProbe,
  ) {
    // prom-client awaits collect() on every scrape.
    (gauge as unknown as { collect: () => Promise<void> }).collect = () => this.collect();
    (info as unknown as { collect: () => Promise<void> }).collect = () => this.collectInfo();
  }

  private async collectInfo(): Promise<void> {
    this.info.reset();
    if (!this.probe) return;
    const report = await withTimeout(this.probe.inspect(), COLLECT_TIMEOUT_MS, () => new Error('timeout')).catch(() => undefined);
    if (report && !report.problem) this.info.set({ topology: report.topology, node: report.node ?? 'unknown' }, 1);
  }

  private async collect(): Promise<void> {
    try {
      const counts = await withTimeout(this.queue.getJobCounts(...STATES), COLLECT_TIMEOUT_MS, () => new Error('timeout'));
      for (const state of STATES) this.gauge.set({ queue: this.queue.name, state }, counts[state] ?? 0);
    } catch {
      // Stale numbers would look like a healthy queue: report nothing until the backend answers.
      this.gauge.reset();
    }
  }
}
