import { CONSOLE_PATH } from '../admin/admin-session.js';
import type { AuditEntry } from '../audit/audit-entry.entity.js';
import { urlWith } from './console-query.js';
import { EVENTS_PATH } from './events.view.js';
import { html, time, type Html } from './html.js';
import { layout } from './layout.view.js';

export const AUDIT_PATH = `${CONSOLE_PATH}/audit`;
const EVENT_ACTIONS = new Set(['event.read', 'event.replay', 'event.reveal']);

export interface AuditPage {
  actor: string;
  entries: AuditEntry[];
  filter: { action?: string; actor?: string };
  next?: string;
  error?: string;
}

/** The audit log, newest first: who read or changed what. */
export function auditView(p: AuditPage): Html {
  const content = html`<section aria-labelledby="audit-filter-title">
      <h2 id="audit-filter-title">Filter</h2>
      <form class="filters" method="get" action="${AUDIT_PATH}" aria-label="Filter the audit log">
        <div><label for="a-action">Action</label><input id="a-action" name="action" value="${p.filter.action ?? ''}" /></div>
        <div><label for="a-actor">Actor</label><input id="a-actor" name="actor" value="${p.filter.actor ?? ''}" /></div>
        <div class="actions"><button type="submit">Apply</button><a class="button secondary" href="${AUDIT_PATH}">Clear</a></div>
      </form>
      ${p.error && html`<p class="field-error" role="alert">${p.error}</p>`}
    </section>
    <table>
      <caption class="visually-hidden">
        Audit log entries, newest first
      </caption>
      <thead>
        <tr>
          <th scope="col">When (UTC)</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
          <th scope="col">Counts</th>
          <th scope="col">Request id</th>
        </tr>
      </thead>
      <tbody>
        ${p.entries.map(
          (e) =>
            html`<tr>
              <td>${time(e.at)}</td>
              <td>${e.actor}</td>
              <td class="mono">${e.action}</td>
              <td class="mono">
                ${e.target && EVENT_ACTIONS.has(e.action) ? html`<a href="${EVENTS_PATH}/${e.target}">${e.target}</a>` : (e.target ?? '')}
              </td>
              <td class="mono">
                ${
                  e.counts
                    ? Object.entries(e.counts)
                        .map(([k, n]) => `${k} ${n}`)
                        .join(', ')
                    : ''
                }
              </td>
              <td class="mono">${e.requestId ?? ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <nav class="pages" aria-label="Pages">
      ${p.next && html`<a href="${urlWith(AUDIT_PATH, { ...p.filter, cursor: p.next })}" rel="next">Older entries</a>`}
    </nav>`;
  return layout({ title: 'Audit log', actor: p.actor, section: 'audit' }, content);
}
