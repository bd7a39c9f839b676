import { envLines, envName, formatTable, shellQuote } from './output';
import { problemError, retryAfterSeconds } from './client';
import { parseValue } from './main';

describe('CLI output', () => {
  it('turns configuration names into shell variable names', () => {
    expect(envName('api.url-v2')).toBe('API_URL_V2');
    expect(envName('3d')).toBe('_3D');
    expect(envName('Ünïcode')).toBe('_N_CODE');
  });

  it('single-quotes values so that nothing in them is expanded', () => {
    expect(shellQuote(`it's $HOME`)).toBe(`'it'\\''s $HOME'`);
    expect(envLines({ a: 'x', n: 3, o: { b: [1] }, z: null })).toEqual([
      "export A='x'",
      "export N='3'",
      `export O='{"b":[1]}'`,
      // JSON null has no value in a shell: unset, not the text 'null'.
      'unset Z',
    ]);
  });

  it('pads table columns and shows empty cells as -', () => {
    expect(
      formatTable(
        ['ID', 'NAME'],
        [
          ['1', 'long name'],
          ['22', ''],
        ],
      ),
    ).toBe('ID  NAME\n1   long name\n22  -');
  });

  it('reads a config value as JSON when it parses, as text otherwise', () => {
    expect(parseValue('42')).toBe(42);
    expect(parseValue('"42"')).toBe('42');
    expect(parseValue('{"a":true}')).toEqual({ a: true });
    expect(parseValue('https://x')).toBe('https://x');
  });
});

describe('CLI error mapping', () => {
  const headers = (init: Record<string, string> = {}) => new Headers(init);
  const map = (status: number, body: unknown, init?: Record<string, string>) => {
    const error = problemError(status, body, headers(init));
    return { exit: error.exitCode, message: error.message };
  };

  it('gives each kind of failure its exit code', () => {
    expect(map(401, { code: 'KEY_REVOKED', message: 'revoked' })).toEqual({
      exit: 3,
      message: expect.stringMatching(/revoked\. Run `keyward login/),
    });
    expect(map(401, { code: 'KEY_EXPIRED' }).message).toContain('expired');
    expect(map(403, { code: 'INSUFFICIENT_SCOPE', details: { requiredScopes: ['keys:read'] } })).toEqual({
      exit: 4,
      message: expect.stringContaining('keys:read'),
    });
    expect(map(429, { code: 'RATE_LIMITED' }, { 'retry-after': '7' })).toEqual({
      exit: 5,
      message: expect.stringContaining('retry in 7 s'),
    });
    expect(map(404, { message: 'API key not found' }).exit).toBe(6);
    expect(map(500, { message: 'Internal server error', code: 'INTERNAL_ERROR', requestId: 'r-1' })).toEqual({
      exit: 1,
      message: 'The server answered 500: Internal server error (INTERNAL_ERROR, request r-1)',
    });
  });

  it('reads Retry-After as seconds or as an HTTP date, else from the body', () => {
    expect(retryAfterSeconds(headers({ 'retry-after': '120' }), {})).toBe(120);
    const inOneMinute = new Date(Date.now() + 60_000).toUTCString();
    expect(retryAfterSeconds(headers({ 'retry-after': inOneMinute }), {})).toBeGreaterThanOrEqual(59);
    expect(retryAfterSeconds(headers(), { details: { retryAfterSeconds: 9 } })).toBe(9);
  });
});
