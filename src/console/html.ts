import { html as honoHtml, raw } from 'hono/html';

/** Markup made by `html`: its interpolated values are escaped, its nested `html` fragments kept as they are. */
export type Html = Exclude<ReturnType<typeof honoHtml>, Promise<unknown>>;

/**
 * HTML as tagged templates (Hono's html helper): every interpolated string is escaped (`& < > " '`),
 * so it is text in an element or in a double-quoted attribute value, never markup; nested `html`
 * fragments and arrays of them are kept as they are; null, undefined and booleans render nothing.
 * Payloads, errors and filter values are attacker-controlled, so the console renders nothing any
 * other way: attribute values are always double-quoted, and `raw` is used only by `attr` below, for
 * attribute names written in this code.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  const out = honoHtml(strings, ...values);
  if (out instanceof Promise) throw new Error('a console template was given a promise: await it first');
  return out;
}

/** ` name="value"`, or nothing when the value is undefined, null or false (`true`: the bare name). */
export function attr(name: string, value: string | number | boolean | null | undefined): Html | '' {
  if (!/^[a-z][a-z-]*$/.test(name)) throw new Error(`not an attribute name: ${name}`);
  if (value === undefined || value === null || value === false) return '';
  return value === true ? html` ${raw(name)}` : html` ${raw(name)}="${String(value)}"`;
}

export function renderDocument(page: Html): string {
  return `<!doctype html>\n${page.toString()}`;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A time as every page shows it: UTC, to the millisecond. */
export function utc(d: Date | string | null | undefined): string {
  if (d === null || d === undefined) return '—';
  const t = typeof d === 'string' ? new Date(d) : d;
  if (Number.isNaN(t.getTime())) return String(d);
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}.${pad(t.getUTCMilliseconds(), 3)}`;
}

/** A `<time>` element for a date, UTC. */
export function time(at: Date | string | null | undefined): Html | string {
  if (at === null || at === undefined) return '—';
  const t = typeof at === 'string' ? new Date(at) : at;
  if (Number.isNaN(t.getTime())) return String(at);
  return html`<time datetime="${t.toISOString()}">${utc(t)}</time>`;
}

/** How long ago, roughly: `42 s`, `5 min`, `3 h 10 min`, `2 d 4 h`. */
export function age(from: Date, now = new Date()): string {
  const s = Math.max(0, Math.round((now.getTime() - from.getTime()) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 24) return `${hours} h ${m % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export const count = (n: number) => n.toLocaleString('en-US');
