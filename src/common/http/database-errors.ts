const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '55006']);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
/**
 * TypeORM marks a query runner released when its connection fails (the server restarting
 * terminates it): the transaction's next query then throws one of these, not the network error.
 */
const RELEASED_RUNNER_ERRORS = new Set(['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError']);
const UNAVAILABLE_MESSAGES = [/connection terminated/i, /timeout exceeded when trying to connect/i, /connection.*(closed|ended)/i, /pglite is closed/i, /client has encountered a connection error/i, /query read timeout/i, /cannot use a pool after calling end/i];

/** True for errors that mean "the database cannot answer now" rather than "this query is wrong". */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error as any, depth = 0; current && depth < 4; current = current.driverError ?? current.cause, depth++) {
    if (RELEASED_RUNNER_ERRORS.has(current.name) || RELEASED_RUNNER_ERRORS.has(current.constructor?.name)) return true;
    const code: unknown = current.code;
    if (typeof code === 'string' && (UNAVAILABLE_NODE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))) return true;
    if (typeof current.message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(current.message))) return true;
  }
  return false;
}

/**
 * PostgreSQL cannot store some text the client sent (a NUL character, in text or in JSON as
 * \u0000): the request is at fault, not the server.
 */
const INVALID_TEXT_SQLSTATES = new Set(['22021', '22P05']);
export function isUnstorableText(error: unknown): boolean {
  for (let current = error as any, depth = 0; current && depth < 4; current = current.driverError ?? current.cause, depth++) {
    if (typeof current.code === 'string' && INVALID_TEXT_SQLSTATES.has(current.code)) return true;
  }
  return false;
}
