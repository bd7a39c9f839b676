import type { FastifyRequest } from 'fastify';
import { checkJsonText, pageFormParser } from './validation';

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

describe('pageFormParser', () => {
  const parse = (text: string, kind: 'html' | false, is404 = false) => {
    const request = { routeOptions: { config: { kind } }, is404 } as unknown as FastifyRequest;
    let outcome: { error: (Error & { status?: number; code?: string }) | null; body?: unknown } | undefined;
    pageFormParser(request, Buffer.from(text), (error, body) => (outcome = { error, body }));
    return outcome!;
  };

  it("parses a page's form, repeated fields as a list, + and %XX decoded", () => {
    const { error, body } = parse('email=a%40example.com&scopes=a&scopes=b&name=two+words', 'html');
    expect(error).toBeNull();
    expect({ ...(body as object) }).toEqual({ email: 'a@example.com', scopes: ['a', 'b'], name: 'two words' });
  });

  it('keeps every field of a long form (a long list of checkboxes)', () => {
    const { body } = parse(Array.from({ length: 1500 }, (_, i) => `scopes=s${i}`).join('&'), 'html');
    expect((body as { scopes: string[] }).scopes).toHaveLength(1500);
  });

  it('refuses a form on a JSON API route with a 415 that says to send JSON, and leaves unknown routes to their 404', () => {
    const { error } = parse('{"name":"a"}', false);
    expect(error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(error!.message).toContain('content-type: application/json');
    expect(parse('a=1', false, true).error).toBeNull();
  });

  it('refuses a __proto__ field, which would replace the prototype of an object the fields are copied onto', () => {
    expect(parse('__proto__=x&email=a', 'html').error).toMatchObject({ code: 'FORBIDDEN_PROPERTY' });
  });
});
