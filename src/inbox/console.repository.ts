import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { filterSql, InboxFilter, InboxKey, keyAlias } from './event-filter.js';
import { SignatureScheme, WebhookEventStatus } from './webhook-event.entity.js';

/** One inbox row as the events console lists it. */
export interface ConsoleEventRow {
  id: string;
  event: string;
  session_id: string;
  status: WebhookEventStatus;
  attempts: number;
  last_error: string | null;
  received_at: Date;
  processed_at: Date | null;
  updated_at: Date;
}

/** One inbox row as the console's event page shows it: everything the row says about its delivery. */
export interface ConsoleEventDetail extends ConsoleEventRow {
  idempotency_key: string;
  signature_scheme: SignatureScheme;
  payload: Record<string, unknown>;
  request_id: string | null;
  recoveries: number;
  batch_job_id: string | null;
  job_id: string | null;
  payload_expired_at: Date | null;
  /** Set when tracing recorded the delivery's trace (the `trace_id` column). */
  trace_id: string | null;
}

export interface BrowseOptions {
  order: 'newest' | 'oldest';
  /** The key of the last row shown (or looked at) before: the page goes on after it. */
  after?: InboxKey;
  limit: number;
  /**
   * At most this many rows, in order, are looked at for one page. A filter that only a few rows
   * match (a payload field, a rare type) would otherwise read the whole inbox for one page; the page
   * then ends early and says where the search stopped, and the next page goes on from there.
   */
  scanLimit?: number;
}

export interface BrowsePage {
  items: ConsoleEventRow[];
  /** Where the next page starts: after the last item, or after the last row looked at. */
  next?: InboxKey;
  /** Set when the scan limit ended the page before it was full: how far back (or forward) it looked. */
  searchedTo?: Date;
}

/**
 * Rows looked at for one page by default: through the inbox's (received_at, id) index, 50,000 (~100 ms
 * on a million-row inbox, docs/operations.md); through the open table, where each row is a primary-key
 * lookup in the inbox, 10,000 (~150 ms).
 */
export const SCAN_LIMIT = { inbox: 50_000, open: 10_000 };

/** Events per status. `estimated`: processed and ignored come from the planner's statistics. */
export interface StatusCounts {
  counts: Record<WebhookEventStatus, number>;
  estimated: Array<'processed' | 'ignored'>;
}

/** Processed and ignored are counted exactly up to this many rows in the inbox; beyond, estimated. */
const EXACT_COUNT_ROWS = 100_000;

/** What became of the deliveries received in a window. */
export interface WindowCounts {
  received: number;
  processed: number;
  ignored: number;
  inFlight: number;
  /** At least one attempt failed: retried (more than one attempt), failing now, or a dead letter. */
  failed: number;
  deadLettered: number;
}

export interface InboxOverview {
  lastHour: WindowCounts;
  lastDay: WindowCounts;
  /** Rows received or processing. */
  backlog: number;
  deadLetters: number;
  oldestUnfinished?: { id: string; receivedAt: Date; status: WebhookEventStatus };
}

const ROW_COLUMNS = 'e.id, e.event, e.session_id, e.status, e.attempts, e.last_error, e.received_at, e.processed_at, e.updated_at';
const KEY_TEXT = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * The inbox as the events console reads it: filtered listings in (received_at, id) order, counts, the
 * overview and one event. Writes (replays) go through InboxRecoveryRepository.
 */
@Injectable()
export class InboxConsoleRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * A page of the rows that match, keyset-paginated on (received_at, id). The scan reads rows in
   * that order through an index (the inbox's, or the open table's for dead letters and rows in
   * flight) and checks the other conditions on each row; `row_number()`'s run condition ends it after
   * `scanLimit` rows, and the row at that limit comes back too, to say where the next page goes on.
   */
  async browse(filter: InboxFilter, opts: BrowseOptions): Promise<BrowsePage> {
    const sql = filterSql(filter);
    const k = keyAlias(sql);
    const params = [...sql.params];
    const p = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const desc = opts.order === 'newest';
    const dir = desc ? 'DESC' : 'ASC';
    const indexed = [...sql.indexed];
    if (opts.after) {
      indexed.push(`(${k}.received_at, ${k}.id) ${desc ? '<' : '>'} (${p(opts.after.receivedAt)}::timestamptz, ${p(opts.after.id)}::uuid)`);
    }
    const scanLimit = opts.scanLimit ?? (k === 'e' ? SCAN_LIMIT.inbox : SCAN_LIMIT.open);
    const scan = p(scanLimit);
    const matched = sql.checked.length > 0 ? sql.checked.join(' AND ') : 'true';
    // limit + 1 matches say whether there is a next page; one more row may be the scan's last.
    type Row = ConsoleEventRow & { n: string; matched: boolean; key_at: string; key_id: string };
    const rows = await this.withoutParallelWorkers<Row[]>(
      `SELECT w.*, ${KEY_TEXT('w.key_at_ts')} AS key_at FROM (
         SELECT ${ROW_COLUMNS}, coalesce(${matched}, false) AS matched, ${k}.received_at AS key_at_ts, ${k}.id AS key_id,
                row_number() OVER (ORDER BY ${k}.received_at ${dir}, ${k}.id ${dir}) AS n
         FROM ${sql.from}
         ${indexed.length ? `WHERE ${indexed.join(' AND ')}` : ''}
         ORDER BY ${k}.received_at ${dir}, ${k}.id ${dir}
       ) w
       WHERE w.n <= ${scan} AND (w.matched OR w.n = ${scan})
       ORDER BY w.key_at_ts ${dir}, w.key_id ${dir}
       LIMIT ${p(opts.limit + 2)}`,
      params,
    );
    const matches = rows.filter((r) => r.matched);
    const toRow = ({ n: _n, matched: _m, key_at: _k, key_id: _i, ...row }: (typeof rows)[number]) => {
      delete (row as { key_at_ts?: unknown }).key_at_ts;
      return row;
    };
    const keyOf = (r: (typeof rows)[number]): InboxKey => ({ receivedAt: r.key_at, id: r.key_id });
    if (matches.length > opts.limit) {
      const page = matches.slice(0, opts.limit);
      return { items: page.map(toRow), next: keyOf(page[page.length - 1]) };
    }
    const last = rows[rows.length - 1];
    if (last && Number(last.n) === scanLimit) {
      // The scan stopped at its limit with room left on the page: the next page goes on after that row.
      return { items: matches.map(toRow), next: keyOf(last), searchedTo: new Date(last.key_at) };
    }
    return { items: matches.map(toRow) };
  }

  /**
   * Runs a listing without parallel workers: the planner does not see that the run condition and
   * the LIMIT end the scan after a few rows, and would start workers (tens of milliseconds to launch
   * on a busy host) for a page that reads fifty.
   */
  private withoutParallelWorkers<T>(sql: string, params: unknown[]): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SET LOCAL max_parallel_workers_per_gather = 0');
      return await manager.query(sql, params);
    });
  }

  /**
   * Events per status in the whole inbox. Rows in flight and dead letters are counted exactly
   * through the open table (its size follows them, not the inbox). Processed and ignored rows are
   * counted exactly while the inbox holds up to EXACT_COUNT_ROWS rows; beyond that the planner's
   * estimate from the table's statistics stands in (counting a million rows takes ~300 ms).
   */
  async statusCounts(): Promise<StatusCounts> {
    // Dead letters by the open table's flag alone; the rows in flight (few) by their inbox status.
    const inFlight: Array<{ status: WebhookEventStatus; n: string }> = await this.dataSource.query(
      `SELECT e.status, count(*) AS n FROM webhook_events_open k JOIN webhook_events e ON e.id = k.id AND NOT k.failed GROUP BY e.status`,
    );
    const [dead]: Array<{ n: string }> = await this.dataSource.query(`SELECT count(*) AS n FROM webhook_events_open WHERE failed`);
    const counts: Record<WebhookEventStatus, number> = { received: 0, processing: 0, processed: 0, failed: Number(dead.n), ignored: 0 };
    for (const r of inFlight) if (r.status === 'received' || r.status === 'processing') counts[r.status] = Number(r.n);
    // reltuples: the statistics' row count (-1 before the first ANALYZE). The bounded count below
    // guards a stale one.
    const [table]: Array<{ rows: number }> = await this.dataSource.query(
      `SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = 'webhook_events'::regclass`,
    );
    if (table.rows <= EXACT_COUNT_ROWS) {
      const [sample]: Array<{ n: string; processed: string; ignored: string }> = await this.dataSource.query(
        `SELECT count(*) AS n, count(*) FILTER (WHERE status = 'processed') AS processed, count(*) FILTER (WHERE status = 'ignored') AS ignored
         FROM (SELECT status FROM webhook_events LIMIT $1) s`,
        [EXACT_COUNT_ROWS + 1],
      );
      if (Number(sample.n) <= EXACT_COUNT_ROWS) {
        counts.processed = Number(sample.processed);
        counts.ignored = Number(sample.ignored);
        return { counts, estimated: [] };
      }
    }
    for (const status of ['processed', 'ignored'] as const) counts[status] = await this.estimate(status);
    return { counts, estimated: ['processed', 'ignored'] };
  }

  private async estimate(status: 'processed' | 'ignored'): Promise<number> {
    // A constant from the enum above, not input: EXPLAIN's estimate for that literal.
    const [row]: Array<{ 'QUERY PLAN': Array<{ Plan: { 'Plan Rows': number } }> }> = await this.dataSource.query(
      `EXPLAIN (FORMAT JSON) SELECT 1 FROM webhook_events WHERE status = '${status}'`,
    );
    return Math.round(row['QUERY PLAN'][0].Plan['Plan Rows']);
  }

  /**
   * The numbers on-call reads first. The windows read the deliveries received in the last day
   * through the (received_at, id) index, so their cost follows a day's deliveries, not the inbox;
   * the backlog and the oldest unfinished delivery come from the open table.
   */
  async overview(): Promise<InboxOverview> {
    const [w]: Array<Record<string, string>> = await this.dataSource.query(
      `SELECT ${['h', 'd']
        .map((win) => {
          const inWindow = win === 'h' ? `received_at >= now() - interval '1 hour'` : 'true';
          return [
            `count(*) FILTER (WHERE ${inWindow}) AS ${win}_received`,
            `count(*) FILTER (WHERE ${inWindow} AND status = 'processed') AS ${win}_processed`,
            `count(*) FILTER (WHERE ${inWindow} AND status = 'ignored') AS ${win}_ignored`,
            `count(*) FILTER (WHERE ${inWindow} AND status IN ('received', 'processing')) AS ${win}_in_flight`,
            `count(*) FILTER (WHERE ${inWindow} AND (status = 'failed' OR attempts > 1 OR last_error IS NOT NULL)) AS ${win}_failed`,
            `count(*) FILTER (WHERE ${inWindow} AND status = 'failed') AS ${win}_dead`,
          ].join(', ');
        })
        .join(', ')}
       FROM webhook_events WHERE received_at >= now() - interval '1 day'`,
    );
    const window = (win: 'h' | 'd'): WindowCounts => ({
      received: Number(w[`${win}_received`]),
      processed: Number(w[`${win}_processed`]),
      ignored: Number(w[`${win}_ignored`]),
      inFlight: Number(w[`${win}_in_flight`]),
      failed: Number(w[`${win}_failed`]),
      deadLettered: Number(w[`${win}_dead`]),
    });
    const [open]: Array<{ backlog: string; dead: string }> = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE NOT failed) AS backlog, count(*) FILTER (WHERE failed) AS dead FROM webhook_events_open`,
    );
    const oldest: Array<{ id: string; received_at: Date; status: WebhookEventStatus }> = await this.dataSource.query(
      `SELECT e.id, e.received_at, e.status FROM (
         SELECT id FROM webhook_events_open WHERE NOT failed ORDER BY received_at, id LIMIT 1) k
       JOIN webhook_events e ON e.id = k.id`,
    );
    return {
      lastHour: window('h'),
      lastDay: window('d'),
      backlog: Number(open.backlog),
      deadLetters: Number(open.dead),
      oldestUnfinished: oldest[0] ? { id: oldest[0].id, receivedAt: oldest[0].received_at, status: oldest[0].status } : undefined,
    };
  }

  /** How many dead letters match the filter (its status aside), counted up to `cap` + 1. */
  async countDeadLetters(filter: InboxFilter, cap: number): Promise<number> {
    const sql = filterSql({ ...filter, status: 'failed' });
    const where = [...sql.indexed, ...sql.checked];
    const [row]: Array<{ n: string }> = await this.dataSource.query(
      `SELECT count(*) AS n FROM (SELECT 1 FROM ${sql.from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} LIMIT $${sql.params.length + 1}) s`,
      [...sql.params, cap + 1],
    );
    return Number(row.n);
  }

  async findById(id: string): Promise<ConsoleEventDetail | null> {
    const rows: ConsoleEventDetail[] = await this.dataSource.query(
      `SELECT ${ROW_COLUMNS}, e.idempotency_key, e.signature_scheme, e.payload, e.request_id, e.recoveries, e.batch_job_id,
              e.job_id, e.payload_expired_at, e.trace_id
       FROM webhook_events e WHERE e.id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }
}
