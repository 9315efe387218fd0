import { Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * An ioredis client that stays ended only when its owner closed it.
 *
 * ioredis ends a client for good (status `end`; every later command fails with "Connection is
 * closed.") when a disconnect reaches it while it is still connecting. Through Sentinel, connecting
 * means asking a sentinel for the primary first, a round trip in which the failover detector's
 * +switch-master, a READONLY reconnect or the worker watchdog can land (ioredis issue 1683: after a
 * failover some pods never reconnect); a producer caught so refuses every delivery after the
 * promotion (reliability scenario 6). This client connects again after such an end, with
 * the reconnection delays of any other drop; `quit()` and `disconnect()` still end it, until its owner
 * calls `connect()` again (as BullMQ does to reset a worker's blocking connection).
 */
export class ResilientRedis extends Redis {
  private static readonly logger = new Logger('Redis');
  private closedByOwner = false;
  private revivals = 0;

  constructor(options: RedisOptions, retryDelay: (attempt: number) => number) {
    super(options);
    this.on('ready', () => (this.revivals = 0));
    this.on('end', () => {
      if (this.closedByOwner) return;
      ResilientRedis.logger.warn('a Redis connection ended while it was being made (ioredis gives up there): connecting again');
      setTimeout(() => {
        if (!this.closedByOwner && this.status === 'end') this.connect().catch(() => undefined);
      }, retryDelay(++this.revivals)).unref();
    });
  }

  override connect(...args: Parameters<Redis['connect']>): ReturnType<Redis['connect']> {
    this.closedByOwner = false;
    return super.connect(...args);
  }

  override quit(...args: Parameters<Redis['quit']>): ReturnType<Redis['quit']> {
    this.closedByOwner = true;
    return super.quit(...args);
  }

  override disconnect(reconnect = false): void {
    if (!reconnect) this.closedByOwner = true;
    super.disconnect(reconnect);
  }
}
