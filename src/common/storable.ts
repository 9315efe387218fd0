/**
 * What PostgreSQL can store, in one place. Every value that comes from outside the service and ends
 * up in a text or jsonb column (payloads, transcripts, error messages quoting a remote host, request
 * headers) passes through here:
 * - text refuses U+0000 (SQLSTATE 22021), and a lone surrogate reaches it as U+FFFD;
 * - jsonb refuses `\u0000` and unpaired surrogate escapes (22P05), and deep nesting exhausts the
 *   server's stack (54001);
 * - timestamptz refuses year 0 and UTC offsets beyond ±15:59 (22008, 22009).
 * Data the service keeps as it came (payloads, transcripts) is checked and refused when it cannot be
 * stored; free text the service writes about it (errors) is made storable.
 */

/** Free text the service records or logs about a failure is cut to this many characters. */
export const MAX_ERROR_TEXT = 2000;

/** Returns `value` as PostgreSQL text can hold it: NUL and lone surrogates as U+FFFD, at most `maxLength` characters. */
export function storableText(value: string, maxLength = MAX_ERROR_TEXT): string {
  let text = value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
  text = text.toWellFormed();
  if (text.length <= maxLength) return text;
  let end = Math.max(0, maxLength - 1);
  // Never split a surrogate pair: the cut would leave a lone high surrogate behind.
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** The message of an error (or anything thrown) as storable text. */
export function errorText(err: unknown, maxLength = MAX_ERROR_TEXT): string {
  return storableText(err instanceof Error ? err.message : String(err), maxLength);
}

/** Whether a string can be stored in text and jsonb unchanged. */
export function isStorableString(s: string): boolean {
  return !s.includes('\u0000') && s.isWellFormed();
}

/**
 * Why a JSON value cannot be stored in a jsonb column unchanged (NUL, a lone surrogate, a number
 * beyond a double's range, nesting deeper than `maxDepth`), or undefined when it can. Iterative, so a deeply nested value cannot
 * overflow the stack.
 */
export function unstorableJsonReason(root: unknown, maxDepth: number): string | undefined {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (!isStorableString(value)) return 'contains a NUL character or an unpaired surrogate';
    } else if (typeof value === 'number') {
      // JSON.parse reads 1e400 as Infinity, which JSON.stringify would write as null.
      if (!Number.isFinite(value)) return 'contains a number beyond the range of a double';
    } else if (typeof value === 'object' && value !== null) {
      if (depth > maxDepth) return `is nested deeper than ${maxDepth} levels`;
      if (Array.isArray(value)) {
        for (const item of value) stack.push([item, depth + 1]);
      } else {
        for (const [key, item] of Object.entries(value)) {
          if (!isStorableString(key)) return 'contains a NUL character or an unpaired surrogate';
          stack.push([item, depth + 1]);
        }
      }
    }
  }
  return undefined;
}

// An RFC 3339 date-time as zod's z.iso.datetime({ offset: true }) accepts it (calendar-checked there).
const ISO_DATE_TIME = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/i;

/**
 * Whether timestamptz takes this ISO 8601 date-time: years 0001 to 9999 and offsets within ±15:59.
 * (Calendar validity is checked by the schema that parses the string.)
 */
export function isStorableTimestamp(value: string): boolean {
  const m = ISO_DATE_TIME.exec(value);
  if (!m) return false;
  if (Number(m[1]) < 1) return false;
  if (m[2] !== undefined && (Number(m[3]) > 15 || Number(m[4]) > 59)) return false;
  return true;
}
