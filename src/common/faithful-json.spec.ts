import { faithfulJson, hasBackslashKey, parseJsonFaithfully } from './faithful-json.js';

const codePoints = (o: object) => Object.keys(o).map((k) => [...k].map((c) => c.codePointAt(0)));

describe('faithfulJson', () => {
  it.each([
    String.raw`{"\u00e9\n":1,"a\"b":[1,-2.5e3,true,null,"x\\y\/z"],"n":{"":{}},"e":[],"t":"\ud83d\ude42\t"}`,
    String.raw` [ 0 , -0.5E+2 , "\b\f\r" , { "k" : [ { } ] } ] `,
    String.raw`"\u2028"`,
    '{"plain":true}',
  ])('reads %s as JSON.parse does', (text) => {
    expect(faithfulJson(text)).toEqual(JSON.parse(text));
  });

  it('keeps a __proto__ key an own property, as JSON.parse does', () => {
    const value = faithfulJson(String.raw`{"__proto__":{"polluted":1},"\n":0}`) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', '\n']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads an escaped key right after an object with a backslash key was parsed (V8 bug on Node 24)', () => {
    JSON.parse(String.raw`{"\\":1}`);
    // On Node 24.21, JSON.parse gives [[92]] here; on Node 20, [[57344]].
    expect(codePoints(faithfulJson(String.raw`{"\ue000":0}`) as object)).toEqual([[0xe000]]);
  });
});

describe('hasBackslashKey', () => {
  it('finds a key beginning with a backslash at any depth within the limit', () => {
    expect(hasBackslashKey({ a: [{ b: { '\\': 1 } }] }, 32)).toBe(true);
    expect(hasBackslashKey({ a: [{ b: { 'x\\': 1 } }], c: '\\' }, 32)).toBe(false);
  });

  it('is false for a value nested deeper than the limit (refused by the caller anyway)', () => {
    expect(hasBackslashKey({ '\\': { a: { b: {} } } }, 2)).toBe(false);
  });
});

describe('parseJsonFaithfully', () => {
  it("keeps the parser's value unless a key begins with a backslash, and passes its errors on", () => {
    const parsed: string[] = [];
    const parse = (text: string): unknown => (parsed.push(text), JSON.parse(text));
    expect(parseJsonFaithfully('{"a":[1]}', 32, parse)).toEqual({ a: [1] });
    expect(parseJsonFaithfully('{"a":"\\\\"}', 32, parse)).toEqual({ a: '\\' });
    expect(parsed).toHaveLength(2);
    expect(() => parseJsonFaithfully('{"a":', 32)).toThrow(SyntaxError);
  });

  it('reads a body with a key beginning with a backslash again, faithfully', () => {
    JSON.parse(String.raw`{"only-here":0,"\\":1}`);
    const value = parseJsonFaithfully(String.raw`{"only-here":0,"\u00e9":1,"\\x":2}`, 32) as object;
    expect(codePoints(value)).toEqual([[...'only-here'].map((c) => c.codePointAt(0)), [0xe9], [0x5c, 0x78]]);
  });
});
