import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { setTimeout as sleep } from 'node:timers/promises';
import { withTimeout } from '../common/with-timeout.js';
import { withMigrationLock } from './migration-lock.js';

const RETRY_DELAY_MS = 2000;

/**
 * Connects to PostgreSQL and applies pending migrations, retrying until it succeeds.
 * Several instances may boot at once: an advisory lock lets one migrate while the others wait.
 */
@Injectable()
export class DatabaseLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseLifecycle.name);
  /** Aborted at shutdown: ends the retry loop, and its wait between attempts at once. */
  private readonly stopping = new AbortController();
  private resolveReady!: () => void;
  private readonly readyPromise = new Promise<void>((resolve) => (this.resolveReady = resolve));
  private connecting?: Promise<void>;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  onApplicationBootstrap(): void {
    this.connecting = this.connectLoop();
  }

  get isReady(): boolean {
    return this.dataSource.isInitialized;
  }

  /** Resolves once connected and migrated; rejects after timeoutMs. */
  async whenReady(timeoutMs: number): Promise<void> {
    await withTimeout(this.readyPromise, timeoutMs, () => new Error(`PostgreSQL not ready after ${timeoutMs} ms`));
  }

  private async connectLoop(): Promise<void> {
    for (let attempt = 1; !this.stopping.signal.aborted; attempt++) {
      try {
        if (!this.dataSource.isInitialized) await this.dataSource.initialize();
        await this.migrate();
        this.logger.log('PostgreSQL connected, migrations applied');
        this.resolveReady();
        return;
      } catch (err) {
        if (attempt === 1 || attempt % 15 === 0) {
          this.logger.warn(`PostgreSQL not available yet (attempt ${attempt}): ${(err as Error).message}`);
        }
        // Not holding the process open; a shutdown cuts the wait short (an awaited timer that
        // never fires would leave the shutdown unsettled: the process exits 13, not 0).
        await sleep(RETRY_DELAY_MS, undefined, { ref: false, signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  private async migrate(): Promise<void> {
    const applied = await withMigrationLock(this.dataSource, () => this.dataSource.runMigrations({ transaction: 'each' }));
    for (const m of applied) this.logger.log(`Applied migration ${m.name}`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    // TypeOrmModule closes the pool itself; only the retry loop is ours to stop.
    await this.connecting?.catch(() => undefined);
  }
}
