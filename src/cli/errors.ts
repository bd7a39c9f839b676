/** The process exit codes of `keyward`; scripts rely on them, so they never change meaning. */
export const EXIT = {
  OK: 0,
  USAGE: 1,
  UNREACHABLE: 2,
  NOT_LOGGED_IN: 3,
  FORBIDDEN: 4,
  RATE_LIMITED: 5,
  NOT_FOUND: 6,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  usage error or any other failure
  2  server unreachable (connection refused, DNS failure, timeout)
  3  not logged in, or the API key was revoked or has expired: run \`keyward login\` again
  4  permission denied: the key lacks a scope (or the user a role) the command needs
  5  rate limited: the message says when to retry
  6  not found

Environment:
  KEYWARD_URL, KEYWARD_API_KEY  override the stored server URL and API key (for CI)
  KEYWARD_CONFIG_DIR            where credentials are kept (default: $XDG_CONFIG_HOME/keyward or ~/.config/keyward)`;

/** A failure with a message for people and an exit code for scripts. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.USAGE,
  ) {
    super(message);
  }
}

export const notLoggedIn = (why = 'Not logged in.') =>
  new CliError(`${why} Run \`keyward login --url <server>\` to sign in.`, EXIT.NOT_LOGGED_IN);
