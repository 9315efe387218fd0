import { encodeCursor } from '../admin/admin-cursor.js';
import { CONSOLE_PATH } from '../admin/admin-session.js';
import type { BrowsePage, ConsoleEventRow, StatusCounts } from '../inbox/console.repository.js';
import { WEBHOOK_EVENT_STATUSES } from '../inbox/webhook-event.entity.js';
import { filterParams, PAGE_SIZES, RawQuery, urlWith } from './console-query.js';
import { attr, count, html, time, type Html } from './html.js';
import { layout, statusBadge } from './layout.view.js';

export const EVENTS_PATH = `${CONSOLE_PATH}/events`;

export interface EventsPage {
  actor: string;
  raw: RawQuery;
  counts: StatusCounts;
  knownEvents: string[];
  /** Field name → message, when the query did not parse (then there is no page). */
  errors?: Record<string, string>;
  page?: BrowsePage;
  order: 'newest' | 'oldest';
}

/** A datetime-local input's value for a time in the URL (UTC, to the second). */
function localValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const t = new Date(/(?:Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`);
  return Number.isNaN(t.getTime()) ? value : t.toISOString().slice(0, 19);
}

interface FieldProps {
  name: string;
  label: string;
  raw: RawQuery;
  errors?: Record<string, string>;
  type?: string;
  hint?: string;
  wide?: boolean;
  value?: string;
  extra?: Html | '';
}

function field(p: FieldProps): Html {
  const id = `f-${p.name}`;
  const error = p.errors?.[p.name];
  const described = [p.hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return html`<div${attr('class', p.wide && 'wide')}>
  <label for="${id}">${p.label}</label>
  <input id="${id}" name="${p.name}" type="${p.type ?? 'text'}" value="${p.value ?? p.raw[p.name] ?? ''}"${attr('aria-invalid', error ? 'true' : undefined)}${attr('aria-describedby', described)}${p.extra ?? ''}>
  ${p.hint && html`<p class="muted" id="${id}-hint">${p.hint}</p>`}
  ${error && html`<p class="field-error" id="${id}-error">${error}</p>`}
</div>`;
}

function select(name: string, label: string, options: Array<[string, string]>, selected = ''): Html {
  return html`<div>
    <label for="f-${name}">${label}</label>
    <select id="f-${name}" name="${name}">
      ${options.map(([value, text]) => html`<option value="${value}" ${attr('selected', value === selected)}>${text}</option>`)}
    </select>
  </div>`;
}

function filterForm({ raw, errors, knownEvents, order }: EventsPage): Html {
  return html`<section aria-labelledby="filters-title">
    <h2 id="filters-title">Filters</h2>
    <form class="filters" method="get" action="${EVENTS_PATH}" role="search" aria-label="Filter events">
      ${select('status', 'Status', [['', 'Any status'], ...WEBHOOK_EVENT_STATUSES.map((s): [string, string] => [s, s])], raw.status)}
      ${field({ name: 'event', label: 'Event type', raw, errors, extra: attr('list', 'known-events') })}
      <datalist id="known-events">${knownEvents.map((e) => html`<option value="${e}"></option>`)}</datalist>
      ${field({ name: 'session_id', label: 'Session id', raw, errors })}
      ${field({ name: 'from', label: 'Received from (UTC)', raw, errors, type: 'datetime-local', value: localValue(raw.from), extra: attr('step', 1) })}
      ${field({ name: 'to', label: 'Received before (UTC)', raw, errors, type: 'datetime-local', value: localValue(raw.to), extra: attr('step', 1) })}
      ${field({ name: 'attempts_min', label: 'Attempts, at least', raw, errors, type: 'number', extra: attr('min', 0) })}
      ${field({ name: 'attempts_max', label: 'Attempts, at most', raw, errors, type: 'number', extra: attr('min', 0) })}
      ${select(
        'order',
        'Order',
        [
          ['newest', 'Newest first'],
          ['oldest', 'Oldest first'],
        ],
        order,
      )}
      ${select(
        'limit',
        'Per page',
        PAGE_SIZES.map((n): [string, string] => [String(n), String(n)]),
        raw.limit ?? '50',
      )}
      ${field({
        name: 'payload',
        label: 'Payload contains (JSON)',
        raw,
        errors,
        wide: true,
        hint: 'For example {"invitee_email": "ada@example.com"} or {"feedback": {"rating": 1}}',
        extra: html`${attr('spellcheck', 'false')}${attr('autocomplete', 'off')}`,
      })}
      <div class="actions">
        <button type="submit">Apply filters</button>
        <a class="button secondary" href="${EVENTS_PATH}">Clear</a>
      </div>
    </form>
    ${errors?.cursor && html`<p class="field-error">The page position ${errors.cursor}</p>`}
  </section>`;
}

function statusTabs(raw: RawQuery, counts: StatusCounts): Html {
  const params = { ...filterParams(raw), order: raw.order, limit: raw.limit };
  const total = WEBHOOK_EVENT_STATUSES.reduce((n, s) => n + counts.counts[s], 0);
  const approx = (estimated: boolean) => (estimated ? '≈ ' : '');
  const tab = (href: string, current: boolean, text: string) =>
    html`<li><a href="${href}" ${attr('aria-current', current && 'page')}>${text}</a></li>`;
  return html`<nav class="tabs" aria-label="Events by status, in the whole inbox">
    <ul>
      ${tab(urlWith(EVENTS_PATH, { ...params, status: undefined }), !raw.status, `All (${approx(counts.estimated.length > 0)}${count(total)})`)}
      ${WEBHOOK_EVENT_STATUSES.map((s) =>
        tab(
          urlWith(EVENTS_PATH, { ...params, status: s }),
          raw.status === s,
          `${s} (${approx((counts.estimated as string[]).includes(s))}${count(counts.counts[s])})`,
        ),
      )}
    </ul>
  </nav>`;
}

export function eventRows(rows: ConsoleEventRow[], caption: string): Html {
  return html`<table>
    <caption class="visually-hidden">
      ${caption}
    </caption>
    <thead>
      <tr>
        <th scope="col">Received (UTC)</th>
        <th scope="col">Event type</th>
        <th scope="col">Session</th>
        <th scope="col">Status</th>
        <th scope="col" class="num">Attempts</th>
        <th scope="col">Last error</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr>
            <td><a href="${EVENTS_PATH}/${r.id}">${time(r.received_at)}</a></td>
            <td class="mono">${r.event}</td>
            <td class="mono">${r.session_id}</td>
            <td>${statusBadge(r.status)}</td>
            <td class="num">${r.attempts}</td>
            <td class="error">${r.last_error ?? ''}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function results(p: EventsPage, page: BrowsePage): Html {
  const params = { ...filterParams(p.raw), order: p.raw.order, limit: p.raw.limit };
  const n = page.items.length;
  const deadLettersInView = (!p.raw.status || p.raw.status === 'failed') && p.counts.counts.failed > 0;
  return html`<section aria-labelledby="results-title">
    <h2 id="results-title">${n === 0 ? 'No events on this page' : `${n} event${n === 1 ? '' : 's'}`}</h2>
    ${
      page.searchedTo &&
      html`<p class="notice" role="status">
        This page looked at events received ${p.order === 'newest' ? 'as far back as' : 'up to'} ${time(page.searchedTo)} and stopped there,
        so that a page stays quick on a large inbox: narrow the time range, or search further with the link below.
      </p>`
    }
    ${
      deadLettersInView &&
      html`<div class="actions">
        <a class="button secondary" href="${urlWith(`${CONSOLE_PATH}/replay`, filterParams(p.raw))}">Replay the dead letters that match…</a>
      </div>`
    }
    ${n > 0 && eventRows(page.items, 'Events')}
    <nav class="pages" aria-label="Pages">
      ${p.raw.cursor && html`<a href="${urlWith(EVENTS_PATH, params)}">First page</a>`}
      ${page.next && html`<a href="${urlWith(EVENTS_PATH, { ...params, cursor: encodeCursor(page.next) })}" rel="next">${page.searchedTo ? 'Search further' : 'Next page'}</a>`}
    </nav>
  </section>`;
}

export function eventsView(p: EventsPage): Html {
  return layout(
    {
      title: 'Events',
      actor: p.actor,
      section: 'events',
      notice: p.errors ? { text: 'Some filters are not valid: see the fields below.', tone: 'bad' } : undefined,
    },
    [statusTabs(p.raw, p.counts), filterForm(p), p.page && results(p, p.page)],
  );
}
