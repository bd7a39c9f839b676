import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError, TypeORMError } from 'typeorm';
import { invalidInput, isDatabaseUnavailable } from './database-errors';

describe('isDatabaseUnavailable', () => {
  it('counts a query runner released by a failed connection as the database being away (503, not 500)', () => {
    expect(isDatabaseUnavailable(new QueryRunnerAlreadyReleasedError())).toBe(true);
    expect(isDatabaseUnavailable(new QueryRunnerProviderAlreadyReleasedError())).toBe(true);
  });

  it('keeps other errors as they are', () => {
    expect(isDatabaseUnavailable(new TypeORMError('duplicate key'))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('relation does not exist'), { code: '42P01' }))).toBe(false);
    expect(
      isDatabaseUnavailable(
        Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      ),
    ).toBe(true);
  });
});

describe('invalidInput', () => {
  const pgError = (code: string, message = 'x', detail?: string) => Object.assign(new Error(message), { code, detail });

  it("reads every data exception (SQLSTATE class 22) as the client's fault", () => {
    expect(
      invalidInput(
        pgError('22P02', 'invalid input syntax for type json', 'Unicode low surrogate must follow a high surrogate.'),
      )?.code,
    ).toBe('INVALID_CHARACTERS');
    expect(invalidInput(pgError('22021'))?.code).toBe('INVALID_CHARACTERS');
    expect(invalidInput(pgError('22P05'))?.code).toBe('INVALID_CHARACTERS');
    expect(invalidInput(pgError('22003'))).toEqual({
      code: 'INVALID_INPUT',
      message: 'A number in the request is out of range',
    });
    expect(invalidInput(pgError('22001'))?.message).toMatch(/too long/);
    expect(invalidInput(pgError('22008'))?.code).toBe('INVALID_INPUT');
    expect(invalidInput({ driverError: pgError('22P02', 'invalid input syntax for type uuid') })?.code).toBe(
      'INVALID_INPUT',
    );
  });

  it('leaves other errors alone', () => {
    expect(invalidInput(pgError('23505'))).toBeUndefined();
    expect(invalidInput(pgError('42P01'))).toBeUndefined();
    expect(invalidInput(new Error('boom'))).toBeUndefined();
  });
});
