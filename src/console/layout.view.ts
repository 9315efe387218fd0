import { CONSOLE_PATH, DASHBOARD_PATH, LOGOUT_PATH } from '../admin/admin-session.js';
import { ASSET_VERSION } from './console-assets.js';
import { attr, html, type Html } from './html.js';

export type Section = 'overview' | 'events' | 'erase' | 'audit';

export interface PageFrame {
  title: string;
  actor: string;
  section?: Section;
  /** A line above the content: what the last action did, or what went wrong. */
  notice?: { text: string | Html; tone?: 'ok' | 'bad' };
}

const NAV: Array<[Section, string, string]> = [
  ['overview', 'Overview', CONSOLE_PATH],
  ['events', 'Events', `${CONSOLE_PATH}/events`],
  ['erase', 'Erase a subject', `${CONSOLE_PATH}/erase`],
  ['audit', 'Audit log', `${CONSOLE_PATH}/audit`],
];

/** Every console page: the header with its navigation and the operator's name, then the content. */
export function layout({ title, actor, section, notice }: PageFrame, content: Html | Array<Html | string | false | undefined>): Html {
  return html`<html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="no-referrer" />
      <title>${title} · interview-webhooks console</title>
      <link rel="stylesheet" href="${CONSOLE_PATH}/assets/console.css?v=${ASSET_VERSION.css}" />
      <script src="${CONSOLE_PATH}/assets/console.js?v=${ASSET_VERSION.js}" defer></script>
    </head>
    <body>
      <a class="skip" href="#main">Skip to content</a>
      <header>
        <span class="brand">interview-webhooks</span>
        <nav aria-label="Console">
          <ul>
            ${NAV.map(([key, label, href]) => html`<li><a href="${href}" ${attr('aria-current', key === section && 'page')}>${label}</a></li>`)}
            <li><a href="${DASHBOARD_PATH}">Queue dashboard</a></li>
          </ul>
        </nav>
        <div class="who">
          <span>Signed in as <strong>${actor}</strong></span>
          <form method="post" action="${LOGOUT_PATH}"><button type="submit">Log out</button></form>
        </div>
      </header>
      <main id="main" tabindex="-1">
        <h1>${title}</h1>
        ${notice && html`<div class="notice ${notice.tone ?? ''}" role="${notice.tone === 'bad' ? 'alert' : 'status'}">${notice.text}</div>`}
        ${content}
      </main>
    </body>
  </html>`;
}

export function statusBadge(status: string): Html {
  return html`<span class="status status-${status}">${status}</span>`;
}

/** The hidden field every mutating form carries. */
export function csrfField(token: string): Html {
  return html`<input type="hidden" name="_csrf" value="${token}" />`;
}

/** A page that says what went wrong (4xx and 5xx). */
export function errorPage(p: { actor?: string; status: number; message: string; requestId: string }): Html {
  const content = html`<p>${p.message}</p>
    <p class="muted">Request id <span class="mono">${p.requestId}</span> (in the service's log).</p>
    <p><a href="${CONSOLE_PATH}/events">Back to the events</a></p>`;
  return layout({ title: p.status >= 500 ? 'Something went wrong' : 'That did not work', actor: p.actor ?? '—' }, content);
}
