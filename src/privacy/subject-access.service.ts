import { Injectable } from '@nestjs/common';
import { AuditLog } from '../audit/audit-log.service.js';
import { InboxTombstonesRepository } from '../inbox/tombstones.repository.js';
import { ErasureService, SubjectRequest } from './erasure.service.js';
import { PersonalDataRegistry } from './personal-data.registry.js';
import { SubjectHashes } from './subject-hashes.js';

/** An access request's answer (GDPR art. 15): what every holder holds about the person, as one document. */
export interface SubjectExport {
  subject: { email?: string; session_ids: string[] };
  /** The subject (or one of its sessions) was erased: deliveries of it are no longer stored. */
  erased: boolean;
  generated_at: Date;
  /** Per holder (`inbox`, `interviews`, ...), per kind of record. */
  records: Record<string, Record<string, unknown[]>>;
}

@Injectable()
export class SubjectAccessService {
  constructor(
    private readonly registry: PersonalDataRegistry,
    private readonly erasures: ErasureService,
    private readonly hashes: SubjectHashes,
    private readonly tombstones: InboxTombstonesRepository,
    private readonly audit: AuditLog,
  ) {}

  async export(request: SubjectRequest): Promise<SubjectExport> {
    await this.hashes.ready();
    const subject = await this.erasures.resolve(request);
    const records: SubjectExport['records'] = {};
    for (const { declaration, holder } of this.registry.all()) records[declaration.name] = await holder.find(subject);
    const hashes = [
      ...(subject.email !== undefined ? this.hashes.all('email', subject.email) : []),
      ...subject.sessionIds.flatMap((s) => this.hashes.all('session', s)),
    ];
    const erased = await this.tombstones.anyErased(hashes);
    const counts = Object.fromEntries(
      Object.entries(records).flatMap(([name, kinds]) => Object.entries(kinds).map(([kind, rows]) => [`${name}.${kind}`, rows.length])),
    );
    await this.audit.record({ action: 'subject_access', target: this.erasures.subjectHash(request), counts });
    return {
      subject: { ...(subject.email !== undefined ? { email: subject.email } : {}), session_ids: subject.sessionIds },
      erased,
      generated_at: new Date(),
      records,
    };
  }
}
