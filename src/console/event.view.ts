import { CONSOLE_PATH } from '../admin/admin-session.js';
import type { RecordFact, SessionRecord } from '../events/session-records.js';
import type { ConsoleEventDetail, ConsoleEventRow } from '../inbox/console.repository.js';
import type { JobsOfEvent } from './console.service.js';
import { urlWith } from './console-query.js';
import { EVENTS_PATH, eventRows } from './events.view.js';
import { attr, html, time, type Html } from './html.js';
import { csrfField, layout, PageFrame, statusBadge } from './layout.view.js';
import { maskedCount, payloadView } from './payload-view.js';

export interface EventPage {
  actor: string;
  csrf: string;
  event: ConsoleEventDetail;
  jobs: JobsOfEvent;
  records: Array<{ name: string; records: SessionRecord[] }>;
  sessionEvents: ConsoleEventRow[];
  revealed: boolean;
  notice?: PageFrame['notice'];
}

const SCHEMES: Record<string, string> = {
  signature: 'X-Webhook-Signature: HMAC-SHA256 of the body',
  timestamped: 'X-InterviewRelay-Signature and X-InterviewRelay-Timestamp: HMAC-SHA256 of the timestamp and the body',
};

const JOB_ROLES = { own: 'its own job', replay: 'its job since its last replay or recovery', batch: 'the batch job of its first attempt' };

function fact(value: RecordFact): Html | string {
  if (value instanceof Date) return time(value);
  if (value === null) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

function jobsTable(jobs: JobsOfEvent): Html {
  if ('unavailable' in jobs) return html`<p class="muted">The queue could not be read: ${jobs.unavailable}</p>`;
  if (jobs.jobs.length === 0)
    return html`<p class="muted">
      The queue keeps no job of this event any more (completed jobs are kept up to an hour, failed ones a week).
    </p>`;
  return html`<table>
    <caption class="visually-hidden">
      Queue jobs of this event
    </caption>
    <thead>
      <tr>
        <th scope="col">Job</th>
        <th scope="col">Role</th>
        <th scope="col">State</th>
        <th scope="col" class="num">Attempts made</th>
        <th scope="col">Errors, one per failed attempt</th>
        <th scope="col">Finished (UTC)</th>
      </tr>
    </thead>
    <tbody>
      ${jobs.jobs.map(
        (j) =>
          html`<tr>
            <td class="mono">${j.id}</td>
            <td>${JOB_ROLES[j.role]}</td>
            <td>${j.state}</td>
            <td class="num">${j.attemptsMade}</td>
            <td class="error">
              ${
                j.errors.length > 0
                  ? html`<ol>
                      ${j.errors.map((e) => html`<li>${e}</li>`)}
                    </ol>`
                  : (j.failedReason ?? '')
              }
            </td>
            <td>${time(j.finishedOn)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function recordsTable(records: EventPage['records']): Html {
  const all = records.flatMap(({ name, records: rs }) => rs.map((r) => ({ name, ...r })));
  if (all.length === 0) return html`<p class="muted">No interview, feedback or notification is stored for this session.</p>`;
  return html`<table>
    <caption class="visually-hidden">
      Records stored for this session
    </caption>
    <thead>
      <tr>
        <th scope="col">Module</th>
        <th scope="col">Record</th>
        <th scope="col">Facts</th>
      </tr>
    </thead>
    <tbody>
      ${all.map(
        (r) =>
          html`<tr>
            <td>${r.name}</td>
            <td>${r.kind}<br /><span class="mono muted">${r.id}</span></td>
            <td>
              <dl class="facts">
                ${Object.entries(r.facts).map(
                  ([k, v]) =>
                    html`<dt>${k.replaceAll('_', ' ')}</dt>
                      <dd>${fact(v)}</dd>`,
                )}
              </dl>
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function payloadSection({ event, revealed, csrf }: EventPage): Html {
  if (event.payload_expired_at) {
    return html`<p>
      The payload expired on ${time(event.payload_expired_at)} (INBOX_PAYLOAD_RETENTION_DAYS): only the event type and the session are kept.
    </p>`;
  }
  const hidden = maskedCount(event.payload);
  const intro = revealed
    ? html`<p class="notice" role="status">Shown in full. Your reveal is recorded in the audit log (event.reveal).</p>`
    : html`<div class="actions">
        <span>${hidden} value${hidden === 1 ? ' is' : 's are'} hidden: they may be personal data.</span>
        <form method="post" action="${EVENTS_PATH}/${event.id}/reveal">
          ${csrfField(csrf)}<button type="submit" class="secondary">Reveal the payload (audited)</button>
        </form>
      </div>`;
  return html`${intro}${payloadView(event.payload, revealed)}`;
}

export function eventView(p: EventPage): Html {
  const e = p.event;
  const replayable = e.status === 'failed' || e.status === 'ignored';
  const inFlight = e.status === 'received' || e.status === 'processing';
  const content = html`<section aria-labelledby="delivery-title">
<h2 id="delivery-title">Delivery</h2>
<dl class="facts">
  <dt>Event id</dt><dd class="mono">${e.id}</dd>
  <dt>Event type</dt><dd class="mono">${e.event}</dd>
  <dt>Session</dt><dd class="mono"><a href="${urlWith(EVENTS_PATH, { session_id: e.session_id })}">${e.session_id}</a></dd>
  <dt>Received (UTC)</dt><dd>${time(e.received_at)}</dd>
  <dt>Signature scheme</dt><dd>${SCHEMES[e.signature_scheme] ?? e.signature_scheme}</dd>
  <dt>Request id</dt><dd class="mono">${e.request_id ?? '—'}</dd>
  ${
    e.trace_id &&
    html`<dt>Trace id</dt>
      <dd class="mono">${e.trace_id}</dd>`
  }
</dl>
</section>
<section aria-labelledby="outcome-title">
<h2 id="outcome-title">Outcome</h2>
<dl class="facts">
  <dt>Status</dt>
  <dd><span id="event-status" data-status="${e.status}"${attr('data-poll', inFlight && `${EVENTS_PATH}/${e.id}/status`)}>${statusBadge(e.status)}</span>
    ${inFlight && html` <span class="muted">in flight: this page reloads when that changes (or <a href="${EVENTS_PATH}/${e.id}">reload it</a>)</span>`}</dd>
  <dt>Attempts</dt><dd>${e.attempts}</dd>
  <dt>Last error</dt><dd${attr('class', e.last_error ? 'error' : undefined)}>${e.last_error ?? '—'}</dd>
  <dt>Processed (UTC)</dt><dd>${time(e.processed_at)}</dd>
  <dt>Last change (UTC)</dt><dd>${time(e.updated_at)}</dd>
  <dt>Put back by the sweeper</dt><dd>${e.recoveries} time${e.recoveries === 1 ? '' : 's'}</dd>
</dl>
<div class="actions">
  ${
    replayable
      ? html`<form method="post" action="${EVENTS_PATH}/${e.id}/replay">
          ${csrfField(p.csrf)}<button type="submit">Replay this event</button>
        </form>`
      : html`<span class="muted">Only failed or ignored events can be replayed.</span>`
  }
  <a class="button secondary" href="${urlWith(`${CONSOLE_PATH}/erase`, { session_id: e.session_id })}">Erase this session…</a>
</div>
</section>
<section aria-labelledby="attempts-title"><h2 id="attempts-title">Attempts in the queue</h2>${jobsTable(p.jobs)}</section>
<section aria-labelledby="records-title"><h2 id="records-title">Records of this session</h2>${recordsTable(p.records)}</section>
<section aria-labelledby="payload-title"><h2 id="payload-title">Payload</h2>${payloadSection(p)}</section>
<section aria-labelledby="session-title"><h2 id="session-title">Events of this session</h2>${eventRows(p.sessionEvents, 'Events of this session')}</section>`;
  return layout({ title: `Event ${e.event}`, actor: p.actor, section: 'events', notice: p.notice }, content);
}
