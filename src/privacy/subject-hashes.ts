import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, createHmac, createSecretKey, KeyObject, randomBytes } from 'node:crypto';
import { Repository } from 'typeorm';
import { withTimeout } from '../common/with-timeout.js';
import { AppConfig } from '../config/configuration.js';
import { DatabaseLifecycle } from '../database/database.lifecycle.js';
import { InboxTombstonesRepository } from '../inbox/tombstones.repository.js';
import { PrivacyKey } from './privacy-key.entity.js';

export type SubjectKind = 'email' | 'session';

/** The row of the key the service generates when ERASURE_HASH_KEY is unset. */
const GENERATED = 'generated';
const READY_WAIT_MS = 3000;

interface HashKey {
  id: string;
  key: KeyObject;
}

/** An email as erasures and tombstones compare it: trimmed and lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * The HMACs that stand for an erased subject in `erasure_tombstones` and in the audit log: HMAC-SHA256
 * of `email:<normalised email>` or `session:<session id>`, under ERASURE_HASH_KEY, or else under a
 * random key generated once and kept in `privacy_keys` (docs/privacy.md, the trade-off). New
 * tombstones use that primary key; a key that older tombstones were made with (a switch from the
 * generated key to ERASURE_HASH_KEY) is kept for checking, so they keep working.
 */
@Injectable()
export class SubjectHashes implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SubjectHashes.name);
  private readonly configured?: Buffer;
  private keys: HashKey[] = [];
  private loaded?: Promise<void>;
  private stopped = false;

  constructor(
    @InjectRepository(PrivacyKey) private readonly stored: Repository<PrivacyKey>,
    private readonly tombstones: InboxTombstonesRepository,
    private readonly database: DatabaseLifecycle,
    config: ConfigService<AppConfig, true>,
  ) {
    const key = config.get('privacy', { infer: true }).hashKey;
    this.configured = key === undefined ? undefined : Buffer.from(key, 'utf8');
  }

  onApplicationBootstrap(): void {
    this.loaded = this.loadWhenReady();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  /** Resolves once the keys are loaded (they are read from PostgreSQL once it is ready). */
  async ready(): Promise<void> {
    if (this.keys.length > 0) return;
    await withTimeout(this.loaded ?? this.loadWhenReady(), READY_WAIT_MS, () => new Error('erasure hash keys not loaded yet'));
    if (this.keys.length === 0) throw new Error('erasure hash keys not loaded');
  }

  /** The id of the key new tombstones are made with. */
  get primaryKeyId(): string {
    return this.primaryKey().id;
  }

  /** The subject's HMAC under the primary key. */
  primary(kind: SubjectKind, value: string): string {
    return hmac(this.primaryKey().key, kind, value);
  }

  /** The subject's HMACs under every key in use, the primary first: what a tombstone may hold. */
  all(kind: SubjectKind, value: string): string[] {
    if (this.keys.length === 0) throw new Error('erasure hash keys not loaded yet');
    return this.keys.map((k) => hmac(k.key, kind, value));
  }

  private primaryKey(): HashKey {
    if (this.keys.length === 0) throw new Error('erasure hash keys not loaded yet');
    return this.keys[0];
  }

  /** Loads the keys once PostgreSQL is connected and migrated (DatabaseLifecycle retries and logs until then). */
  private async loadWhenReady(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.database.whenReady(2000);
      } catch {
        continue; // still connecting
      }
      try {
        await this.load();
        return;
      } catch (err) {
        if (attempt === 1 || attempt % 30 === 0) this.logger.warn(`erasure hash keys not loaded yet: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 2000).unref());
      }
    }
  }

  private async load(): Promise<void> {
    let generated = await this.stored.findOneBy({ id: GENERATED });
    if (!this.configured && !generated) {
      await this.stored
        .createQueryBuilder()
        .insert()
        .values({ id: GENERATED, key: randomBytes(32) })
        .orIgnore()
        .execute();
      generated = await this.stored.findOneByOrFail({ id: GENERATED });
    }
    const keys = [this.configured, generated?.key].filter((k): k is Buffer => k !== undefined).map(toHashKey);
    const [primary, ...others] = keys;
    const used = new Set(await this.tombstones.keyIds());
    this.keys = [primary, ...others.filter((k) => k.id !== primary.id && used.has(k.id))];
    const unknown = [...used].filter((id) => !keys.some((k) => k.id === id));
    if (unknown.length > 0) {
      this.logger.error(
        `erasure tombstones made under key(s) ${unknown.join(', ')} that this service no longer has: deliveries of those subjects are not recognised as erased; restore the ERASURE_HASH_KEY they were made with`,
      );
    }
  }
}

function toHashKey(key: Buffer): HashKey {
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key: createSecretKey(key) };
}

function hmac(key: KeyObject, kind: SubjectKind, value: string): string {
  return createHmac('sha256', key).update(`${kind}:${value}`).digest('hex');
}
