import { canonicalJson } from './canonical-json';

describe('canonicalJson', () => {
  it.each<[string, unknown, string]>([
    [
      'keys sorted at every depth',
      { b: 1, a: { d: 2, c: [{ y: 1, x: 2 }] } },
      '{"a":{"c":[{"x":2,"y":1}],"d":2},"b":1}',
    ],
    ['a date as its ISO string', { at: new Date('2026-01-02T03:04:05.678Z') }, '{"at":"2026-01-02T03:04:05.678Z"}'],
    ['undefined fields left out', { a: undefined, b: null }, '{"b":null}'],
    ['a bare undefined as null', undefined, 'null'],
    ['null', null, 'null'],
    ['strings escaped', { 'k"': 'v\n' }, '{"k\\"":"v\\n"}'],
    ['arrays keep their order', [3, 1, 2], '[3,1,2]'],
    ['empty containers', { a: [], b: {} }, '{"a":[],"b":{}}'],
  ])('%s', (_, value, text) => {
    expect(canonicalJson(value)).toBe(text);
  });

  it('is JSON.stringify for a parsed body whose keys are already sorted', () => {
    const body = JSON.parse('{"a":1,"b":[true,{"c":"x","d":null}],"e":1.5}');
    expect(canonicalJson(body)).toBe(JSON.stringify(body));
  });
});
