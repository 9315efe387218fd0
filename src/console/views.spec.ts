import { eraseConfirmView, eraseFormView, erasureView, replayConfirmView, replayResultView } from './actions.view.js';
import { auditView } from './audit.view.js';
import { eventView } from './event.view.js';
import { eventsView } from './events.view.js';
import type { Html } from './html.js';
import { errorPage } from './layout.view.js';
import { overviewView } from './overview.view.js';
import type { AuditEntry } from '../audit/audit-entry.entity.js';

/** Markup that would do something if any view wrote it out as it is: in text, and in an attribute value. */
const H = `"'><script>alert(1)</script><img src=x onerror=alert(1)><!channel>`;
const SAFE = '&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&lt;!channel&gt;';

function expectInert(page: Html): void {
  const text = page.toString();
  // The one script is the console's own, from its own origin.
  expect(text.match(/<script/g)).toHaveLength(1);
  expect(text).toMatch(/<script src="\/admin\/console\/assets\/console\.js\?v=\w+" defer><\/script>/);
  expect(text).not.toMatch(/<(img|svg|iframe|!channel)/i);
  expect(text).not.toContain('onerror=alert(1)>');
  expect(text).toContain(SAFE);
}

describe('every console page escapes what it shows', () => {
  const at = new Date('2026-12-01T10:00:00Z');
  const row = {
    id: '0b0e8a4e-9c1d-4b7e-8a53-4c1f7a0d2e11',
    event: H,
    session_id: H,
    status: 'failed' as const,
    attempts: 3,
    last_error: H,
    received_at: at,
    processed_at: null,
    updated_at: at,
  };
  const raw = {
    status: H,
    event: H,
    session_id: H,
    from: H,
    to: H,
    attempts_min: H,
    attempts_max: H,
    payload: H,
    order: H,
    limit: H,
    cursor: H,
  };
  const counts = { counts: { received: 1, processing: 0, processed: 2, failed: 3, ignored: 0 }, estimated: [] };

  it('the events list, its filters and their errors', () => {
    expectInert(eventsView({ actor: H, raw, counts, knownEvents: [H], errors: { payload: H, cursor: H }, order: 'newest' }));
    expectInert(
      eventsView({
        actor: H,
        raw,
        counts,
        knownEvents: [H],
        order: 'oldest',
        page: { items: [row], next: { receivedAt: '2026-12-01T10:00:00.000000Z', id: row.id }, searchedTo: at },
      }),
    );
  });

  it('one event, masked and revealed, with its jobs and records', () => {
    for (const revealed of [false, true]) {
      expectInert(
        eventView({
          actor: H,
          csrf: H,
          event: {
            ...row,
            idempotency_key: H,
            signature_scheme: 'signature',
            payload: { [H]: H, event: H, nested: { [H]: [H] } },
            request_id: H,
            recoveries: 0,
            batch_job_id: H,
            job_id: H,
            payload_expired_at: null,
            trace_id: H,
          },
          jobs: { jobs: [{ id: H, role: 'own', state: H, attemptsMade: 2, errors: [H, H], failedReason: H, finishedOn: at }] },
          records: [{ name: H, records: [{ kind: H, id: H, facts: { [H]: H, at, n: 1, yes: true, none: null } }] }],
          sessionEvents: [row],
          revealed,
          notice: { text: H, tone: 'bad' },
        }),
      );
    }
  });

  it('the replay, erasure, audit, overview and error pages', () => {
    expectInert(replayConfirmView({ actor: H, csrf: H, filter: { event: H, payload: H }, matching: 3, max: 1000 }));
    expectInert(replayResultView({ actor: H, filter: { event: H }, count: 3, queued: true }));
    expectInert(eraseFormView({ actor: H, csrf: H, form: { email: H, session_id: H }, error: H }));
    expectInert(eraseConfirmView({ actor: H, csrf: H, form: { email: H } }));
    expectInert(
      erasureView({
        actor: H,
        erasure: { id: H, subject: 'email', status: 'completed', counts: { [H]: 1 }, created_at: at, completed_at: at },
        justDone: true,
      }),
    );
    const entry = { id: '1', at, actor: H, action: 'event.replay', target: H, counts: { [H]: 1 }, requestId: H } as AuditEntry;
    expectInert(auditView({ actor: H, entries: [entry], filter: { action: H, actor: H }, next: H, error: H }));
    expectInert(errorPage({ actor: H, status: 400, message: H, requestId: H }));
    const window = { received: 1, processed: 1, ignored: 0, inFlight: 0, failed: 0, deadLettered: 0 };
    expectInert(
      overviewView({
        actor: H,
        overview: {
          lastHour: window,
          lastDay: window,
          backlog: 1,
          deadLetters: 0,
          oldestUnfinished: { id: H, receivedAt: at, status: 'received' },
          queue: { unavailable: H },
          at,
        },
      }),
    );
  });
});
