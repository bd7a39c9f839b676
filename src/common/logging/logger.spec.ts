import { Writable } from 'node:stream';
import { createLogger, LazyRequestLogger } from './logger';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level, destination }), lines };
}

describe('LazyRequestLogger', () => {
  it('writes lines with the request id bound and secrets redacted, as a pino child would', () => {
    const { logger, lines } = capture('info');
    const child = LazyRequestLogger.factory(logger, { requestId: 'req-1' }, {});
    child.info({ headers: { 'x-api-key': 'kw_secret' }, status: 200 }, 'request');
    child.error('failed');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ requestId: 'req-1', status: 200, msg: 'request', level: 'info' });
    expect((lines[0].headers as Record<string, unknown>)['x-api-key']).toBe('[redacted]');
    expect(lines[1]).toMatchObject({ requestId: 'req-1', msg: 'failed', level: 'error' });
  });

  it('makes no child logger while nothing at or above the level is written', () => {
    const { logger, lines } = capture('warn');
    const makeChild = jest.spyOn(logger, 'child');
    const child = LazyRequestLogger.factory(logger, { requestId: 'req-2' }, {});
    child.info('below the level');
    child.debug('below the level');
    expect(child.level).toBe('warn');
    expect(makeChild).not.toHaveBeenCalled();
    child.warn('at the level');
    expect(makeChild).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([expect.objectContaining({ requestId: 'req-2', msg: 'at the level' })]);
  });

  it('makes a real child at once when the route sets options of its own (a log level)', () => {
    const { logger, lines } = capture('warn');
    const child = LazyRequestLogger.factory(logger, { requestId: 'req-3' }, { level: 'debug' });
    expect(child).not.toBeInstanceOf(LazyRequestLogger);
    child.debug('route-level debug');
    expect(lines).toEqual([expect.objectContaining({ requestId: 'req-3', msg: 'route-level debug' })]);
  });
});
