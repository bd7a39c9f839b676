const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '55006']);
const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);
/**
 * TypeORM marks a query runner released when its connection fails (the server restarting
 * terminates it): the transaction's next query then throws one of these, not the network error.
 */
const RELEASED_RUNNER_ERRORS = new Set(['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError']);
const UNAVAILABLE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection.*(closed|ended)/i,
  /pglite is closed/i,
  /client has encountered a connection error/i,
  /query read timeout/i,
  /cannot use a pool after calling end/i,
];

/** True for errors that mean "the database cannot answer now" rather than "this query is wrong". */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (
    let current = error as any, depth = 0;
    current && depth < 4;
    current = current.driverError ?? current.cause, depth++
  ) {
    if (RELEASED_RUNNER_ERRORS.has(current.name) || RELEASED_RUNNER_ERRORS.has(current.constructor?.name)) return true;
    const code: unknown = current.code;
    if (
      typeof code === 'string' &&
      (UNAVAILABLE_NODE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))
    )
      return true;
    if (typeof current.message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(current.message)))
      return true;
  }
  return false;
}

/**
 * SQLSTATE class 22 ("data exception") means PostgreSQL refused a value the client sent: text
 * it cannot store (NUL, a lone surrogate escaped into JSON), a number or date out of range, a
 * string too long. The request is at fault, not the server: 400 with a message saying which.
 */
const INVALID_CHARACTER_SQLSTATES = new Set(['22021', '22P05']);
const INVALID_INPUT_MESSAGES: Record<string, string> = {
  '22001': 'A value in the request is too long',
  '22003': 'A number in the request is out of range',
  '22008': 'A date or time in the request is out of range',
  '22007': 'A date or time in the request is not valid',
};
const CHARACTERS_MESSAGE = 'The request contains characters that cannot be stored (such as NUL or a lone surrogate)';

export interface InvalidInput {
  code: 'INVALID_CHARACTERS' | 'INVALID_INPUT';
  message: string;
}

/** The client-facing reading of a data exception, or undefined for any other error. */
export function invalidInput(error: unknown): InvalidInput | undefined {
  for (
    let current = error as any, depth = 0;
    current && depth < 4;
    current = current.driverError ?? current.cause, depth++
  ) {
    const code: unknown = current.code;
    if (typeof code !== 'string' || !code.startsWith('22')) continue;
    if (
      INVALID_CHARACTER_SQLSTATES.has(code) ||
      (code === '22P02' && /unicode|surrogate|escape/i.test(String(current.detail ?? current.message ?? '')))
    ) {
      return { code: 'INVALID_CHARACTERS', message: CHARACTERS_MESSAGE };
    }
    return {
      code: 'INVALID_INPUT',
      message: INVALID_INPUT_MESSAGES[code] ?? 'A value in the request is not valid input',
    };
  }
  return undefined;
}
