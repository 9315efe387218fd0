import { CONSOLE_PATH } from '../admin/admin-session.js';
import type { ErasureView } from '../privacy/erasure.service.js';
import { RawQuery, urlWith } from './console-query.js';
import { EVENTS_PATH } from './events.view.js';
import { attr, count, html, time, type Html } from './html.js';
import { csrfField, layout } from './layout.view.js';

export const REPLAY_PATH = `${CONSOLE_PATH}/replay`;
export const ERASE_PATH = `${CONSOLE_PATH}/erase`;

const FILTER_LABELS: Record<string, string> = {
  event: 'Event type',
  session_id: 'Session id',
  from: 'Received from',
  to: 'Received before',
  attempts_min: 'Attempts, at least',
  attempts_max: 'Attempts, at most',
  payload: 'Payload contains',
};

function filterSummary(filter: RawQuery): Html {
  const entries = Object.entries(filter).filter(([k]) => k in FILTER_LABELS);
  if (entries.length === 0) return html`<p>Every dead letter in the inbox (no filter).</p>`;
  return html`<dl class="facts">
    ${entries.map(
      ([k, v]) =>
        html`<dt>${FILTER_LABELS[k]}</dt>
          <dd class="mono">${v}</dd>`,
    )}
  </dl>`;
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/** The confirmation before a bulk replay: what matches, how many, and the button that runs it. */
export function replayConfirmView(p: { actor: string; csrf: string; filter: RawQuery; matching: number; max: number }): Html {
  const n = Math.min(p.matching, p.max);
  const listed = urlWith(EVENTS_PATH, { ...p.filter, status: 'failed' });
  const body =
    p.matching === 0
      ? html`<p>No dead letter matches this filter: there is nothing to replay.</p>
          <p><a href="${listed}">Back to the list</a></p>`
      : html`<p>
            <strong>${p.matching > p.max ? `More than ${count(p.max)}` : count(p.matching)}</strong>
            ${plural(p.matching, 'dead letter matches', 'dead letters match')}. Replaying puts
            ${p.matching > p.max ? `the oldest ${count(n)}` : plural(n, 'it', 'them')} back through processing under a fresh job, with
            attempts counted anew. ${p.matching > p.max && `At most ${count(p.max)} are replayed at a time: replay again for the rest.`}
          </p>
          <form method="post" action="${REPLAY_PATH}">
            ${csrfField(p.csrf)} ${Object.entries(p.filter).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}" />`)}
            <div class="actions">
              <button type="submit">Replay ${count(n)} ${plural(n, 'dead letter', 'dead letters')}</button>
              <a class="button secondary" href="${listed}">Cancel</a>
            </div>
          </form>`;
  return layout(
    { title: 'Replay dead letters', actor: p.actor, section: 'events' },
    html`<section aria-labelledby="replay-filter">
      <h2 id="replay-filter">Dead letters matching</h2>
      ${filterSummary(p.filter)}${body}
    </section>`,
  );
}

export function replayResultView(p: { actor: string; filter: RawQuery; count: number; queued: boolean }): Html {
  const content = html`<p>
      ${
        p.queued
          ? 'They are back in the queue; the events below show them as they are processed.'
          : 'The queue did not take them just now: they are recorded as received, and the stale-row sweeper enqueues them.'
      }
    </p>
    <div class="actions">
      <a class="button" href="${urlWith(EVENTS_PATH, { ...p.filter, status: undefined })}">See these events</a>
      <a class="button secondary" href="${urlWith(EVENTS_PATH, { ...p.filter, status: 'failed' })}">Dead letters still matching</a>
    </div>`;
  return layout(
    {
      title: 'Replay dead letters',
      actor: p.actor,
      section: 'events',
      notice: { text: `Replayed ${count(p.count)} ${plural(p.count, 'dead letter', 'dead letters')}.`, tone: 'ok' },
    },
    content,
  );
}

export interface EraseForm {
  email?: string;
  session_id?: string;
}

/** The erasure form: by email (every session seen with it) or one session. */
export function eraseFormView(p: { actor: string; csrf: string; form: EraseForm; error?: string }): Html {
  const described = attr('aria-describedby', p.error ? 'erase-error' : undefined);
  const content = html`<section aria-labelledby="erase-title">
    <h2 id="erase-title">Who</h2>
    <p>
      Erases everything stored about a person (by the invitee's email, with every session seen with it) or about one session: inbox events
      and dead letters, interviews and transcripts, feedback, notification records. Later deliveries of it are answered
      <span class="mono">erased</span> and not stored. The next step asks you to confirm.
    </p>
    <form method="post" action="${ERASE_PATH}">
      ${csrfField(p.csrf)}
      <div class="filters">
        <div>
          <label for="erase-email">Invitee email</label
          ><input id="erase-email" name="email" type="email" autocomplete="off" value="${p.form.email ?? ''}" ${described} />
        </div>
        <div>
          <label for="erase-session">or session id</label
          ><input id="erase-session" name="session_id" type="text" autocomplete="off" value="${p.form.session_id ?? ''}" ${described} />
        </div>
      </div>
      ${p.error && html`<p class="field-error" id="erase-error" role="alert">${p.error}</p>`}
      <div class="actions"><button type="submit">Continue</button></div>
    </form>
  </section>`;
  return layout({ title: 'Erase a subject', actor: p.actor, section: 'erase' }, content);
}

export function eraseConfirmView(p: { actor: string; csrf: string; form: EraseForm }): Html {
  const who =
    p.form.email !== undefined
      ? html`the person with the email <strong class="mono">${p.form.email}</strong>, and every session seen with it`
      : html`the session <strong class="mono">${p.form.session_id}</strong>`;
  const content = html`<section aria-labelledby="confirm-title">
    <h2 id="confirm-title">Confirm</h2>
    <p>Everything stored about ${who} will be deleted. This cannot be undone.</p>
    <form method="post" action="${ERASE_PATH}">
      ${csrfField(p.csrf)} ${p.form.email !== undefined && html`<input type="hidden" name="email" value="${p.form.email}" />`}
      ${p.form.session_id !== undefined && html`<input type="hidden" name="session_id" value="${p.form.session_id}" />`}
      <input type="hidden" name="confirm" value="yes" />
      <div class="actions">
        <button type="submit" class="danger">Erase for good</button>
        <a class="button secondary" href="${ERASE_PATH}">Cancel</a>
      </div>
    </form>
  </section>`;
  return layout({ title: 'Erase a subject', actor: p.actor, section: 'erase' }, content);
}

export function erasureView(p: { actor: string; erasure: ErasureView; justDone: boolean }): Html {
  const e = p.erasure;
  const content = html`<section aria-labelledby="erasure-title">
    <h2 id="erasure-title">Erasure <span class="mono">${e.id}</span></h2>
    <dl class="facts">
      <dt>Asked by</dt>
      <dd>${e.subject === 'email' ? 'email' : 'session id'}</dd>
      <dt>Status</dt>
      <dd>${e.status}</dd>
      <dt>Started (UTC)</dt>
      <dd>${time(e.created_at)}</dd>
      <dt>Completed (UTC)</dt>
      <dd>${time(e.completed_at)}</dd>
    </dl>
    <table>
      <caption class="visually-hidden">
        Records erased, per kind
      </caption>
      <thead>
        <tr>
          <th scope="col">Kind</th>
          <th scope="col" class="num">Erased</th>
        </tr>
      </thead>
      <tbody>
        ${Object.entries(e.counts).map(
          ([kind, n]) =>
            html`<tr>
              <td>${kind.replaceAll('_', ' ')}</td>
              <td class="num">${count(n)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${e.status === 'pending' && html`<p class="notice bad">It did not finish: ask for the same erasure again.</p>`}
  </section>`;
  return layout(
    {
      title: 'Erasure',
      actor: p.actor,
      section: 'erase',
      notice: p.justDone ? { text: 'Erased. The erasure is recorded in the audit log.', tone: 'ok' } : undefined,
    },
    content,
  );
}
