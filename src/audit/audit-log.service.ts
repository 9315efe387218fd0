import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { currentLogContext } from '../logging/log-context.js';
import { AuditEntry } from './audit-entry.entity.js';

/** The actor of what the service does on its own (retention passes). */
export const SYSTEM_ACTOR = 'system';

export interface AuditRecord {
  action: string;
  /** Defaults to the actor of the request in progress (the admin token's name). */
  actor?: string;
  /** An inbox or erasure id, or a subject's HMAC: never an email or other personal data. */
  target?: string;
  counts?: Record<string, number>;
}

export interface AuditFilter {
  limit: number;
  /** The id of the last entry of the previous page (newest first). */
  before?: string;
  action?: string;
  actor?: string;
}

/**
 * The audit trail: who read or changed what. Entries carry the request id of the request in progress,
 * so the request log and the audit log can be joined.
 */
@Injectable()
export class AuditLog {
  private readonly logger = new Logger(AuditLog.name);

  constructor(@InjectRepository(AuditEntry) private readonly entries: Repository<AuditEntry>) {}

  async record(entry: AuditRecord): Promise<void> {
    const context = currentLogContext();
    const actor = entry.actor ?? context?.actor;
    if (!actor) throw new Error(`audit entry ${entry.action} without an actor`);
    await this.entries.insert({
      actor,
      action: entry.action,
      target: entry.target ?? null,
      counts: entry.counts ?? null,
      requestId: context?.requestId ?? null,
    });
    this.logger.log(`audit: ${actor} ${entry.action}${entry.target ? ` ${entry.target}` : ''}`);
  }

  /** Newest first, keyset-paginated on id. */
  list(filter: AuditFilter): Promise<AuditEntry[]> {
    const q = this.entries.createQueryBuilder('a').orderBy('a.id', 'DESC').limit(filter.limit);
    if (filter.before) q.andWhere('a.id < :before', { before: filter.before });
    if (filter.action) q.andWhere('a.action = :action', { action: filter.action });
    if (filter.actor) q.andWhere('a.actor = :actor', { actor: filter.actor });
    return q.getMany();
  }
}
