import { Injectable } from '@nestjs/common';
import type { Worker } from 'bullmq';

/**
 * The queue worker this process runs, if any: set by the processor (worker and all roles) when it
 * starts; read by the queue's readiness check and its error log. It lets those report on the worker
 * without the queue module knowing the processor.
 */
@Injectable()
export class QueueWorker {
  private current?: Worker;
  private readonly listeners: Array<(worker: Worker) => void> = [];

  get worker(): Worker | undefined {
    return this.current;
  }

  register(worker: Worker): void {
    this.current = worker;
    for (const listener of this.listeners) listener(worker);
  }

  /** Runs `listener` for the worker, now if it is registered, else when it is. */
  onRegistered(listener: (worker: Worker) => void): void {
    if (this.current) listener(this.current);
    else this.listeners.push(listener);
  }
}
