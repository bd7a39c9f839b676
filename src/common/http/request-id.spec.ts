import type { IncomingMessage } from 'node:http';
import { requestIdFor } from './request-id';

const withId = (value: string | string[] | undefined) =>
  ({ headers: { 'x-request-id': value } }) as unknown as IncomingMessage;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

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
    expect(requestIdFor(withId(id))).toMatch(UUID);
  });
});
