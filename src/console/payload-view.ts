import { html, type Html } from './html.js';

/**
 * The payload fields shown before the operator reveals the payload: which event it is and when, and
 * its session (which the listing shows too, and which is how operators find an event). Every other
 * value is masked (docs/privacy.md: a payload holds the invitee's email, the transcript URL, the
 * feedback comment, and whatever fields the platform adds); keys and the shape stay visible.
 */
export const VISIBLE_FIELDS: ReadonlySet<string> = new Set(['event', 'session_id', 'timestamp']);

function describe(value: unknown): string {
  if (typeof value === 'string') return `string, ${value.length} character${value.length === 1 ? '' : 's'}`;
  if (value === null) return 'null';
  return typeof value;
}

type Entry = readonly [string | undefined, unknown];
const entriesOf = (value: object): Entry[] =>
  Array.isArray(value) ? value.map((v): Entry => [undefined, v]) : Object.entries(value as Record<string, unknown>);

/** How many values the masked view hides. */
export function maskedCount(payload: unknown, top = true): number {
  if (payload === null || typeof payload !== 'object') return 1;
  return entriesOf(payload).reduce(
    (n, [key, v]) => n + (top && key !== undefined && VISIBLE_FIELDS.has(key) ? 0 : maskedCount(v, false)),
    0,
  );
}

function walk(value: unknown, depth: number, masked: boolean): Array<Html | string> {
  if (value !== null && typeof value === 'object') {
    const entries = entriesOf(value);
    const [open, end] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
    if (entries.length === 0) return [`${open}${end}`];
    const out: Array<Html | string> = [`${open}\n`];
    entries.forEach(([key, item], i) => {
      out.push('  '.repeat(depth + 1));
      if (key !== undefined) out.push(html`<span class="key">${JSON.stringify(key)}</span>`, ': ');
      const hide = masked && !(depth === 0 && key !== undefined && VISIBLE_FIELDS.has(key));
      out.push(...walk(item, depth + 1, hide));
      out.push(i < entries.length - 1 ? ',\n' : '\n');
    });
    out.push(`${'  '.repeat(depth)}${end}`);
    return out;
  }
  if (masked) return [html`<span class="masked">‹hidden: ${describe(value)}›</span>`];
  if (typeof value === 'string') return [html`<span class="str">${JSON.stringify(value)}</span>`];
  return [html`<span class="lit">${String(value)}</span>`];
}

/**
 * The payload as indented JSON, every value in an element of its own; unless `reveal`, the values of
 * every field but VISIBLE_FIELDS are replaced by what they are (`string, 21 characters`). Each piece
 * is escaped text: a payload holding markup shows the markup.
 */
export function payloadView(payload: unknown, reveal: boolean): Html {
  const label = reveal ? 'Payload' : 'Payload, personal values hidden';
  return html`<pre class="json" tabindex="0" aria-label="${label}"><code>${walk(payload, 0, !reveal)}</code></pre>`;
}
