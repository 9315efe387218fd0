import { DiscoveryService } from '@nestjs/core';
import type { ObjectLiteral, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type { RetentionKind } from '../config/configuration.js';

/**
 * The person an erasure or an access request is about, as every holder sees it: the sessions (the one
 * named, or every session seen with the email) and, when the request named one, the email (trimmed,
 * lower-cased).
 */
export interface DataSubject {
  email?: string;
  sessionIds: string[];
}

/** A window of stored time: records stored at or after `from` (when set) and before `until`. */
export interface RetentionWindow {
  from?: Date;
  until: Date;
}

/**
 * What a module that stores personal data does with it, through its own repositories. The module
 * marks one provider `@HoldsPersonalData({ ... })`; the privacy module finds it (as processing finds
 * handlers and health finds readiness checks) and never imports it.
 */
export interface PersonalDataHolder {
  /** The sessions this holder has seen with the email: an erasure by email covers them too. */
  sessionsOf(email: string): Promise<string[]>;
  /** What it holds about the subject, per kind of record, as JSON (an access request's export). */
  find(subject: DataSubject): Promise<Record<string, unknown[]>>;
  /** Erases what it holds about the subject; how many records, per kind of record. */
  erase(subject: DataSubject): Promise<Record<string, number>>;
  /**
   * Expires up to `limit` records of `kind` stored in the window, oldest first: how many, and the
   * storage time of the last one looked at (the next call goes on after it), or none when the window
   * holds no more.
   */
  expire(kind: RetentionKind, window: RetentionWindow, limit: number): Promise<{ expired: number; reached?: Date }>;
}

export interface PersonalDataDeclaration {
  /** Its name in erasure counts and access exports. */
  name: string;
  /** The kinds of data whose retention setting it applies. */
  retention: RetentionKind[];
  /** Every column holding personal data that it finds, erases and expires, as `table.column`. */
  columns: string[];
  /**
   * Erased before the others: the inbox, so that an event being processed while its subject is erased
   * finds its row gone when it records its outcome, and erases what it wrote (EventRunner).
   */
  eraseFirst?: boolean;
}

/**
 * Expires up to `limit` records of `repository` stored in `window` (by `storedAt`, a column indexed
 * with `id`), oldest first: deletes them, or, with `set`, updates them. `where` (columns written `$.name`) narrows which records
 * are due (e.g. `transcript IS NOT NULL`); it is checked again on a record another pass changed
 * meanwhile, so each record is counted once. Returns how many, and the storage time reached when the
 * statement hit its limit (the next one goes on from there; none: the window holds no more).
 */
export async function expireOldest<T extends ObjectLiteral>(
  repository: Repository<T>,
  window: RetentionWindow,
  limit: number,
  opts: { storedAt: string; where?: string; set?: QueryDeepPartialEntity<T> },
): Promise<{ expired: number; reached?: Date }> {
  const due = repository
    .createQueryBuilder('d')
    .select('d.id')
    .where(`d.${opts.storedAt} < :until`)
    .orderBy(`d.${opts.storedAt}`)
    .addOrderBy('d.id')
    .limit(limit);
  if (window.from) due.andWhere(`d.${opts.storedAt} >= :from`);
  if (opts.where) due.andWhere(opts.where.replaceAll('$.', 'd.'));
  const base = repository.createQueryBuilder();
  const statement = opts.set ? base.update().set(opts.set) : base.delete();
  statement.where(`id IN (${due.getQuery()})`);
  if (opts.where) statement.andWhere(opts.where.replaceAll('$.', ''));
  const result = await statement.setParameters({ until: window.until, from: window.from }).returning(opts.storedAt).execute();
  const times = (result.raw as Array<Record<string, Date>>).map((r) => r[opts.storedAt]);
  if (times.length < limit) return { expired: times.length };
  return { expired: times.length, reached: new Date(Math.max(...times.map((t) => t.getTime()))) };
}

/** Marks the provider that holds a module's personal data (see PersonalDataHolder). */
export const HoldsPersonalData = DiscoveryService.createDecorator<PersonalDataDeclaration>();

/** `table.column` → why it is not personal data, or `personal`. Filled by the decorators below. */
const classified = new Map<object, Map<string, string>>();

function classify(kind: string): PropertyDecorator {
  return (target, property) => {
    const columns = classified.get(target.constructor) ?? new Map<string, string>();
    columns.set(String(property), kind);
    classified.set(target.constructor, columns);
  };
}

/**
 * On an entity's column: it holds personal data (an email, free text a person wrote, their transcript,
 * an identifier of their session). Some `@HoldsPersonalData` provider must list it
 * (src/events/personal-data.spec.ts fails otherwise).
 */
export function PersonalData(): PropertyDecorator {
  return classify('personal');
}

/** On an entity's text or JSON column that holds no personal data, with the reason. */
export function NotPersonalData(why: string): PropertyDecorator {
  return classify(`not personal: ${why}`);
}

/** How an entity's properties are classified (for the coverage test). */
export function personalDataClassification(entity: object): ReadonlyMap<string, string> {
  return classified.get(entity) ?? new Map();
}
