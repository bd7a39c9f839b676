import type { IncomingMessage } from 'node:http';
import { requestIdFor } from './request-id';

const withHeaders = (...rawHeaders: string[]) => ({ rawHeaders }) as unknown as IncomingMessage;
const withId = (value: string | string[] | undefined) =>
  withHeaders(
    'Host',
    'example.test',
    ...(value === undefined ? [] : ([] as string[]).concat(value).flatMap((v) => ['X-Request-Id', v])),
  );
const GENERATED = /^[A-Za-z0-9]{8}-[0-9a-z]+$/;

describe('requestIdFor', () => {
  it.each(['abc', 'trace-1.2:3_x', 'a'.repeat(64)])('keeps a short, plain caller id (%s)', (id) => {
    expect(requestIdFor(withId(id))).toBe(id);
  });

  it.each<[string, string | string[] | undefined]>([
    ['65 characters', 'a'.repeat(65)],
    ['a space', 'a b'],
    ['a newline', 'a\nb'],
    ['markup', '<script>'],
    ['non-ASCII', 'ïd'],
    ['an empty value', ''],
    ['a repeated header', ['a', 'b']],
    ['no header', undefined],
  ])('replaces %s with a generated id', (_, id) => {
    expect(requestIdFor(withId(id))).toMatch(GENERATED);
  });

  it('never gives the same id twice in a process', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => requestIdFor(withId(undefined))));
    expect(ids.size).toBe(10_000);
  });
});
