import type { IncomingMessage } from 'node:http';
import { rawHeader } from './raw-header';

const withHeaders = (...rawHeaders: string[]) => ({ rawHeaders }) as unknown as IncomingMessage;

describe('rawHeader', () => {
  it('finds a header whatever the case of its name, and tells a repeated one (null) from a missing one', () => {
    const request = withHeaders('Host', 'h', 'COOKIE', 'a=1', 'X-Twice', '1', 'x-twice', '2');
    expect(rawHeader(request, 'cookie')).toBe('a=1');
    expect(rawHeader(request, 'x-twice')).toBeNull();
    expect(rawHeader(request, 'accept')).toBeUndefined();
  });
});
