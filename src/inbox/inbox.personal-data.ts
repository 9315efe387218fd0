import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, Repository } from 'typeorm';
import type { RetentionKind } from '../config/configuration.js';
import { DataSubject, expireOldest, HoldsPersonalData, PersonalDataHolder, RetentionWindow } from '../events/personal-data.js';
import { WebhookEvent } from './webhook-event.entity.js';

/** What an expired payload keeps: the common fields that say which event it was, nothing personal. */
const EXPIRED_PAYLOAD = `jsonb_build_object('event', event, 'session_id', session_id)`;

/**
 * The inbox's personal data: the deliveries' payloads (the invitee's email, the feedback comment, the
 * transcript URL), the session ids and the idempotency keys that carry them. Erasure deletes the
 * subject's rows, dead letters included (a tombstone answers a redelivery instead); retention drops
 * the payload of finished and failed rows and keeps the row, its key and its outcome.
 */
@HoldsPersonalData({
  name: 'inbox',
  retention: ['inbox_payloads'],
  columns: ['webhook_events.idempotency_key', 'webhook_events.session_id', 'webhook_events.payload'],
  eraseFirst: true,
})
@Injectable()
export class InboxPersonalData implements PersonalDataHolder {
  constructor(@InjectRepository(WebhookEvent) private readonly events: Repository<WebhookEvent>) {}

  /** Reads the whole inbox (no index covers payloads: an erasure is rare, an index would cost every delivery). */
  async sessionsOf(email: string): Promise<string[]> {
    const rows = await this.events
      .createQueryBuilder('e')
      .select('DISTINCT e.session_id', 'session_id')
      .where(`lower(btrim(e.payload ->> 'invitee_email')) = :email`, { email })
      .getRawMany<{ session_id: string }>();
    return rows.map((r) => r.session_id);
  }

  async find(subject: DataSubject): Promise<Record<string, unknown[]>> {
    const rows = await this.events.createQueryBuilder('e').where(ofSubject(subject)).orderBy('e.received_at').getMany();
    return {
      events: rows.map((e) => ({
        id: e.id,
        event: e.event,
        session_id: e.sessionId,
        status: e.status,
        received_at: e.receivedAt,
        processed_at: e.processedAt,
        payload: e.payload,
        payload_expired_at: e.payloadExpiredAt,
      })),
    };
  }

  async erase(subject: DataSubject): Promise<Record<string, number>> {
    if (subject.sessionIds.length === 0 && subject.email === undefined) return { inbox_events: 0, dead_letters: 0 };
    const deleted = await this.events.createQueryBuilder().delete().where(ofSubject(subject)).returning('status').execute();
    const rows = (deleted.raw ?? []) as Array<{ status: string }>;
    return { inbox_events: rows.length, dead_letters: rows.filter((r) => r.status === 'failed').length };
  }

  async expire(kind: RetentionKind, window: RetentionWindow, limit: number): Promise<{ expired: number; reached?: Date }> {
    if (kind !== 'inbox_payloads') return { expired: 0 };
    return expireOldest(this.events, window, limit, {
      storedAt: 'received_at',
      where: `$.payload_expired_at IS NULL AND $.status IN ('processed', 'ignored', 'failed')`,
      set: { payload: () => EXPIRED_PAYLOAD, payloadExpiredAt: () => 'now()' },
    });
  }
}

/** The subject's rows: its sessions', and any whose payload names its email. */
function ofSubject(subject: DataSubject): Brackets {
  return new Brackets((w) => {
    w.where('session_id = ANY(:sessions)', { sessions: subject.sessionIds });
    if (subject.email !== undefined) w.orWhere(`lower(btrim(payload ->> 'invitee_email')) = :email`, { email: subject.email });
  });
}
