import type { WindowCounts } from '../inbox/console.repository.js';
import type { Overview } from './console.service.js';
import { urlWith } from './console-query.js';
import { EVENTS_PATH } from './events.view.js';
import { age, count, html, time, type Html } from './html.js';
import { layout } from './layout.view.js';

/** Each row, and the filter of the listing that shows its events (null: no one filter does). */
const ROWS: Array<[keyof WindowCounts, string, Record<string, string> | null]> = [
  ['received', 'Received', {}],
  ['processed', 'Processed', { status: 'processed' }],
  ['ignored', 'Ignored (no handler for the type)', { status: 'ignored' }],
  ['inFlight', 'Still in flight', null],
  ['failed', 'Failed at least one attempt', null],
  ['deadLettered', 'Dead-lettered', { status: 'failed' }],
];

/** The numbers on-call looks at first: the last hour and day, the backlog, the oldest delivery still waiting. */
export function overviewView({ actor, overview: o }: { actor: string; overview: Overview }): Html {
  const since = (ms: number) => new Date(o.at.getTime() - ms).toISOString();
  const windows: Array<[string, WindowCounts, string]> = [
    ['Last hour', o.lastHour, since(3600_000)],
    ['Last 24 hours', o.lastDay, since(86_400_000)],
  ];
  const cell = (filter: Record<string, string> | null, from: string, n: number) =>
    filter ? html`<a href="${urlWith(EVENTS_PATH, { ...filter, from })}">${count(n)}</a>` : count(n);
  const oldest = o.oldestUnfinished;
  const queue =
    'unavailable' in o.queue
      ? html`<div class="value">—</div>
          <div class="muted">${o.queue.unavailable}</div>`
      : html`<div class="value">${count(o.queue.waiting + o.queue.active + o.queue.delayed)}</div>
          <div class="muted">
            ${count(o.queue.waiting)} waiting, ${count(o.queue.active)} active, ${count(o.queue.delayed)} delayed, ${count(o.queue.failed)}
            failed
          </div>`;
  const content = html`<div class="cards">
      <div class="card">
        <div class="muted">Backlog (received or processing)</div>
        <div class="value">${count(o.backlog)}</div>
      </div>
      <div class="card">
        <div class="muted">Oldest delivery not processed yet</div>
        <div class="value">${oldest ? age(new Date(oldest.receivedAt), o.at) : 'none'}</div>
        ${oldest && html`<div><a href="${EVENTS_PATH}/${oldest.id}">${time(oldest.receivedAt)}</a> (${oldest.status})</div>`}
      </div>
      <div class="card">
        <div class="muted">Dead letters</div>
        <div class="value"><a href="${urlWith(EVENTS_PATH, { status: 'failed' })}">${count(o.deadLetters)}</a></div>
      </div>
      <div class="card">
        <div class="muted">Queue jobs</div>
        ${queue}
      </div>
    </div>
    <section aria-labelledby="windows-title">
      <h2 id="windows-title">Deliveries received lately, by what became of them</h2>
      <table>
        <caption class="visually-hidden">
          Deliveries received in the last hour and the last 24 hours
        </caption>
        <thead>
          <tr>
            <th scope="col">Deliveries</th>
            ${windows.map(([label]) => html`<th scope="col" class="num">${label}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${ROWS.map(
            ([key, label, filter]) =>
              html`<tr>
                <th scope="row">${label}</th>
                ${windows.map(([, w, from]) => html`<td class="num">${cell(filter, from, w[key])}</td>`)}
              </tr>`,
          )}
        </tbody>
      </table>
      <p class="muted">As of ${time(o.at)} UTC (read at most every 5 seconds), over the deliveries received in each window.</p>
    </section>`;
  return layout({ title: 'Overview', actor, section: 'overview' }, content);
}
