import { checkJsonText } from './validation';

const check = (text: string, depth = 32) => checkJsonText(Buffer.from(text), depth);

describe('checkJsonText', () => {
  it('counts nesting outside strings only', () => {
    expect(check('{"a":[[1]]}', 3)).toBeUndefined();
    expect(check('{"a":[[[1]]]}', 3)).toBe('too-deep');
    expect(check(JSON.stringify({ a: '[[[[{{{{' }), 2)).toBeUndefined();
    expect(check(JSON.stringify({ a: 'quote \\" and backslash \\\\', b: [[1]] }), 3)).toBeUndefined();
  });

  it('finds lone surrogate escapes and lets pairs, other escapes and real characters through', () => {
    expect(check(JSON.stringify({ name: '\ud800' }))).toBe('lone-surrogate');
    expect(check(JSON.stringify({ name: 'a\udfffb' }))).toBe('lone-surrogate');
    expect(check('{"name":"\\ud83d\\u0041"}')).toBe('lone-surrogate');
    expect(check('{"name":"\\ud83d\\ude00 \\u00e9 \\n \\\\ud800"}')).toBeUndefined();
    expect(check(JSON.stringify({ name: '😀 é' }))).toBeUndefined();
  });
});
