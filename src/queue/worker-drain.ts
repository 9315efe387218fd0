import { Logger } from '@nestjs/common';
import { RedisQueueBackend, Worker } from 'bullmq';
import { withTimeout } from '../common/with-timeout.js';

/**
 * Stops a worker at shutdown, while the database and the queue are still open: it takes no new jobs,
 * and the events it is processing get `timeoutMs` to finish. What is waited for is the processor's
 * own work (`idle`), not BullMQ's job events: with Redis down those never fire, though the work (the
 * database writes) can still finish. Then the worker closes: gracefully when the backend answers
 * (BullMQ records the finished jobs), at once otherwise. A job cut off keeps its lock until it
 * expires and BullMQ's stalled-job check hands it to another worker; the handlers are idempotent.
 */
export async function drainWorker(worker: Worker, idle: () => Promise<void>, timeoutMs: number, logger: Logger): Promise<void> {
  const started = Date.now();
  await worker.pause(true).catch((err: Error) => logger.warn(`worker ${worker.name}: pausing failed: ${err.message}`));
  const finished = await withTimeout(
    idle().then(() => true),
    timeoutMs,
    () => new Error('timeout'),
  ).catch(() => false);
  if (!finished) {
    logger.warn(
      `worker ${worker.name}: events in progress did not finish within ${timeoutMs} ms; closing anyway (their jobs' locks expire and another worker takes them over)`,
    );
  }
  const graceful = finished && (await backendAnswers(worker));
  await worker.close(!graceful).catch((err: Error) => logger.warn(`worker ${worker.name}: close failed: ${err.message}`));
  logger.log(
    `worker ${worker.name} stopped in ${Date.now() - started} ms${graceful ? '' : ' (closed without waiting for the queue backend)'}`,
  );
}

/** Whether the worker's queue backend is connected now (Redis: its client is ready; other backends: assumed). */
async function backendAnswers(worker: Worker): Promise<boolean> {
  const backend = worker.getBackend();
  if (!(backend instanceof RedisQueueBackend)) return true;
  try {
    const client = (await withTimeout(backend.client, 500, () => new Error('timeout'))) as unknown as { status?: string };
    return client.status === 'ready';
  } catch {
    return false;
  }
}
