import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ListsSessionRecords, SessionRecord, SessionRecordsReader } from '../events/session-records.js';
import { Notification } from './notification.entity.js';

/** The notifications recorded for a session (for the events console): kind, state, attempts, error, when sent. */
@ListsSessionRecords({ name: 'notifications' })
@Injectable()
export class NotificationRecords implements SessionRecordsReader {
  constructor(@InjectRepository(Notification) private readonly notifications: Repository<Notification>) {}

  async recordsOf(sessionId: string): Promise<SessionRecord[]> {
    const rows = await this.notifications.find({ where: { sessionId }, order: { createdAt: 'ASC' } });
    return rows.map((n) => ({
      kind: `notification ${n.kind}`,
      id: n.id,
      facts: {
        status: n.status,
        attempts: n.attempts,
        last_error: n.lastError,
        sent_at: n.sentAt,
        created_at: n.createdAt,
        updated_at: n.updatedAt,
      },
    }));
  }
}
