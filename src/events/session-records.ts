import { DiscoveryService } from '@nestjs/core';

/** A value a record's fact may hold (dates are shown in UTC). */
export type RecordFact = string | number | boolean | Date | null;

/**
 * A record a feature wrote for a session, as the events console shows it beside the session's
 * events: its state, times and counts, and whether a personal field is set, never the field itself.
 */
export interface SessionRecord {
  /** What it is, in the feature's words: `interview`, `feedback`, `notification slack.interview_completed`. */
  kind: string;
  id: string;
  facts: Record<string, RecordFact>;
}

/**
 * What a feature module tells about the records it keeps per session, through its own repository.
 * The module marks one provider `@ListsSessionRecords({ name })`; the console finds it (as the
 * privacy module finds `@HoldsPersonalData`) and never imports it.
 */
export interface SessionRecordsReader {
  recordsOf(sessionId: string): Promise<SessionRecord[]>;
}

/** Marks the provider that lists a module's records of a session (see SessionRecordsReader). */
export const ListsSessionRecords = DiscoveryService.createDecorator<{ name: string }>();
