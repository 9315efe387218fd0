/**
 * The value of a JSON text that JSON.parse accepted, read without JSON.parse where that can be wrong.
 *
 * V8 in Node 24 and 26 (the image's runtime; not Node 20) can return an escaped object key as a
 * backslash: once the process has parsed an object with the key `\` at some position, a later object
 * whose key at that position is another escaped character (`"\n"`, `"\u00e9"`) may come back with
 * the key `\` (https://github.com/nodejs/node/issues/63785, open). Only a text with a backslash can
 * hold an escaped key; the others go to JSON.parse. Values are never affected, only keys.
 *
 * A plain recursive reading: call it only on a text JSON.parse accepted, nested no deeper than the
 * caller allows (the recursion follows the nesting). Keys are defined, not assigned, so a `__proto__`
 * key is an own property, as JSON.parse makes it.
 */
export function faithfulJson(text: string): unknown {
  if (!text.includes('\\')) return JSON.parse(text);
  const LITERAL = /true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
  let i = 0;
  const skip = () => {
    while (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r') i++;
  };
  const string = (): string => {
    let out = '';
    i++;
    for (;;) {
      const c = text[i++];
      if (c === '"') return out;
      if (c !== '\\') out += c;
      else if (text[i] === 'u') {
        out += String.fromCharCode(parseInt(text.slice(i + 1, i + 5), 16));
        i += 5;
      } else out += ESCAPES[text[i++]];
    }
  };
  const value = (): unknown => {
    skip();
    if (text[i] === '"') return string();
    if (text[i] === '{' || text[i] === '[') {
      const isArray = text[i++] === '[';
      const out: unknown[] | Record<string, unknown> = isArray ? [] : {};
      skip();
      if (text[i] === (isArray ? ']' : '}')) return (i++, out);
      for (;;) {
        if (isArray) (out as unknown[]).push(value());
        else {
          skip();
          const key = string();
          skip();
          i++; // ':'
          // Defined, not assigned: a "__proto__" key is an own property, as JSON.parse makes it.
          Object.defineProperty(out, key, { value: value(), enumerable: true, writable: true, configurable: true });
        }
        skip();
        if (text[i++] !== ',') return out;
      }
    }
    LITERAL.lastIndex = i;
    const token = LITERAL.exec(text)![0];
    i += token.length;
    return token === 'true' ? true : token === 'false' ? false : token === 'null' ? null : Number(token);
  };
  return value();
}

/**
 * Whether a parsed JSON value has an object key beginning with a backslash (every key Node 24 misreads
 * does), for a value nested at most `maxDepth` levels; false for a deeper one, which faithfulJson must
 * not be given (its callers refuse it).
 */
export function hasBackslashKey(root: unknown, maxDepth: number): boolean {
  let found = false;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) return false;
    if (Array.isArray(value)) for (const item of value) stack.push([item, depth + 1]);
    else
      for (const [key, item] of Object.entries(value)) {
        if (key.startsWith('\\')) found = true;
        stack.push([item, depth + 1]);
      }
  }
  return found;
}

/**
 * `parse(text)` (JSON.parse by default), read again by faithfulJson when the result has a key
 * beginning with a backslash and is nested no deeper than `maxDepth`: where Node 24 may have misread
 * an escaped key. Throws what `parse` throws.
 */
export function parseJsonFaithfully(text: string, maxDepth: number, parse: (text: string) => unknown = JSON.parse): unknown {
  const value = parse(text);
  return text.includes('\\') && hasBackslashKey(value, maxDepth) ? faithfulJson(text) : value;
}
