import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { z } from 'zod';
import { AuditLog } from '../audit/audit-log.service.js';
import { DataSubject } from '../events/personal-data.js';
import { InboxTombstonesRepository } from '../inbox/tombstones.repository.js';
import { currentLogContext } from '../logging/log-context.js';
import { Erasure } from './erasure.entity.js';
import { PersonalDataRegistry } from './personal-data.registry.js';
import { normaliseEmail, SubjectHashes } from './subject-hashes.js';

/** Who an erasure or an access request is about: an email or a session id (exactly one). */
export type SubjectRequest = { email: string; sessionId?: undefined } | { sessionId: string; email?: undefined };

/** An erasure as the admin API shows it (no personal data: the subject is only named by its kind). */
export const erasureView = z
  .object({
    id: z.uuid(),
    subject: z.enum(['email', 'session_id']).describe('What the erasure was asked for by'),
    status: z.enum(['pending', 'completed']).describe('`pending`: it did not finish (repeat the request)'),
    counts: z.record(z.string(), z.number().int()).describe('Records erased, per kind'),
    created_at: z.date(),
    completed_at: z.date().nullable(),
  })
  .meta({ id: 'Erasure' });
export type ErasureView = z.infer<typeof erasureView>;

/**
 * Erases a person's data from every holder (docs/privacy.md). In this order, which is what makes an
 * event being processed meanwhile store nothing afterwards:
 * 1. the erasure and its tombstones (the HMACs of the email and of every session it was seen with)
 *    are committed: from then on a delivery of the subject is answered `erased` and not stored;
 * 2. each holder erases what it holds, the inbox first;
 * 3. an event that was in flight writes its records, then finds its inbox row gone when it records
 *    its outcome, and erases the subject's sessions again (EventRunner): either the erasure's delete
 *    came after that write, or that check comes after the erasure's delete.
 */
@Injectable()
export class ErasureService {
  private readonly logger = new Logger(ErasureService.name);

  constructor(
    private readonly registry: PersonalDataRegistry,
    private readonly hashes: SubjectHashes,
    private readonly tombstones: InboxTombstonesRepository,
    private readonly audit: AuditLog,
    @InjectRepository(Erasure) private readonly erasures: Repository<Erasure>,
  ) {}

  /** The subject as every holder sees it: an email resolves to every session seen with it. */
  async resolve(request: SubjectRequest): Promise<DataSubject> {
    if (request.sessionId !== undefined) return { sessionIds: [request.sessionId] };
    const email = normaliseEmail(request.email);
    const found = await Promise.all(this.registry.all().map(({ holder }) => holder.sessionsOf(email)));
    return { email, sessionIds: [...new Set(found.flat())].sort() };
  }

  /** The subject's HMAC under the primary key: how the audit log and the erasure name it. */
  subjectHash(request: SubjectRequest): string {
    return request.sessionId !== undefined
      ? this.hashes.primary('session', request.sessionId)
      : this.hashes.primary('email', normaliseEmail(request.email));
  }

  async erase(request: SubjectRequest): Promise<ErasureView> {
    await this.hashes.ready();
    const subject = await this.resolve(request);
    const subjectHash = this.subjectHash(request);
    const context = currentLogContext();
    const id = randomUUID();
    await this.erasures.insert({
      id,
      subjectKind: subject.email !== undefined ? 'email' : 'session_id',
      subjectHash,
      status: 'pending',
      counts: {},
      actor: context?.actor ?? 'unknown',
      requestId: context?.requestId ?? null,
    });
    const tombstones = [
      ...(subject.email !== undefined ? [this.hashes.primary('email', subject.email)] : []),
      ...subject.sessionIds.map((s) => this.hashes.primary('session', s)),
    ];
    await this.tombstones.add(tombstones, this.hashes.primaryKeyId, id);
    const counts = await this.eraseEverywhere(subject);
    await this.erasures.update(id, { status: 'completed', counts, completedAt: () => 'now()' });
    await this.audit.record({ action: 'erasure', target: subjectHash, counts });
    this.logger.log(
      `erasure ${id}: ${Object.entries(counts)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    );
    return (await this.get(id))!;
  }

  /** Erases the subject from every holder, the inbox first; how many records per kind. */
  async eraseEverywhere(subject: DataSubject): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const { holder } of this.registry.all()) {
      for (const [kind, n] of Object.entries(await holder.erase(subject))) counts[kind] = (counts[kind] ?? 0) + n;
    }
    return counts;
  }

  /** Whether the session is erased (a handler asks before it tells anyone outside, e.g. Slack). */
  async isErased(sessionId: string): Promise<boolean> {
    await this.hashes.ready();
    return this.tombstones.anyErased(this.hashes.all('session', sessionId));
  }

  async get(id: string): Promise<ErasureView | null> {
    const e = await this.erasures.findOneBy({ id });
    if (!e) return null;
    return { id: e.id, subject: e.subjectKind, status: e.status, counts: e.counts, created_at: e.createdAt, completed_at: e.completedAt };
  }
}
