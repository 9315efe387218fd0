import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { RetentionKind } from '../config/configuration.js';
import { DataSubject, expireOldest, HoldsPersonalData, PersonalDataHolder, RetentionWindow } from '../events/personal-data.js';
import { Notification } from './notification.entity.js';

/**
 * The notification records: which sessions were announced to Slack, and when. Retention deletes finished
 * records (never one being sent); a replay after that posts again.
 */
@HoldsPersonalData({ name: 'notifications', retention: ['notifications'], columns: ['notifications.session_id'] })
@Injectable()
export class NotificationsPersonalData implements PersonalDataHolder {
  constructor(@InjectRepository(Notification) private readonly notifications: Repository<Notification>) {}

  sessionsOf(): Promise<string[]> {
    return Promise.resolve([]);
  }

  async find(subject: DataSubject): Promise<Record<string, unknown[]>> {
    const rows = await this.notifications
      .createQueryBuilder('n')
      .where('n.session_id = ANY(:sessions)', { sessions: subject.sessionIds })
      .orderBy('n.created_at')
      .getMany();
    return {
      notifications: rows.map((n) => ({
        kind: n.kind,
        session_id: n.sessionId,
        status: n.status,
        sent_at: n.sentAt,
        created_at: n.createdAt,
      })),
    };
  }

  async erase(subject: DataSubject): Promise<Record<string, number>> {
    const deleted = await this.notifications
      .createQueryBuilder()
      .delete()
      .where('session_id = ANY(:sessions)', { sessions: subject.sessionIds })
      .execute();
    return { notifications: deleted.affected ?? 0 };
  }

  async expire(kind: RetentionKind, window: RetentionWindow, limit: number): Promise<{ expired: number; reached?: Date }> {
    if (kind !== 'notifications') return { expired: 0 };
    // Never a record being sent: its claim is what keeps a post to one.
    return expireOldest(this.notifications, window, limit, { storedAt: 'created_at', where: `$.status <> 'sending'` });
  }
}
