import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { ErasureTombstone } from './erasure-tombstone.entity.js';

/** The erasure tombstones as the privacy module writes and reads them (the inbox's INSERT reads them in SQL). */
@Injectable()
export class InboxTombstonesRepository {
  constructor(@InjectRepository(ErasureTombstone) private readonly tombstones: Repository<ErasureTombstone>) {}

  /** Records these subjects as erased by `erasureId` (a subject erased before keeps its first tombstone). */
  async add(hashes: string[], keyId: string, erasureId: string): Promise<void> {
    if (hashes.length === 0) return;
    await this.tombstones
      .createQueryBuilder()
      .insert()
      .values([...new Set(hashes)].sort().map((subjectHash) => ({ subjectHash, keyId, erasureId })))
      .orIgnore()
      .execute();
  }

  /** Whether any of these subject hashes is erased. */
  async anyErased(hashes: string[]): Promise<boolean> {
    return hashes.length > 0 && (await this.tombstones.existsBy({ subjectHash: In(hashes) }));
  }

  /** The keys tombstones were made with. */
  async keyIds(): Promise<string[]> {
    const rows = await this.tombstones.createQueryBuilder('t').select('DISTINCT t.key_id', 'key_id').getRawMany<{ key_id: string }>();
    return rows.map((r) => r.key_id);
  }
}
