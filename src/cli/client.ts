import type { KeySource } from './credentials';
import { CliError, EXIT, notLoggedIn } from './errors';
import { startSpinner } from './output';

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Statuses the caller handles itself instead of the usual error mapping. */
  allow?: number[];
  /** Shown beside the spinner when the request takes more than a second. */
  label?: string;
}

/** The server's error shape (see src/common/http/problem.ts). */
interface Problem {
  statusCode?: number;
  message?: string;
  code?: string;
  requestId?: string;
  details?: { requiredScopes?: string[]; retryAfterSeconds?: number };
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** `https://host:port/base` without a trailing slash; anything but http(s) is a usage error. */
export function normalizeUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`Not a URL: ${raw} (expected something like https://keyward.example.com)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`The server URL must start with http:// or https://, not ${url.protocol}`);
  return url.href.replace(/\/+$/, '');
}

/** fetch with a base URL, one credential, a timeout, a spinner, and errors mapped to exit codes. */
export class ApiClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly credential: { apiKey?: string; bearer?: string; keySource?: KeySource } = {},
    private readonly timeoutMs = Number(process.env.KEYWARD_TIMEOUT_MS) || DEFAULT_TIMEOUT_MS,
  ) {
    this.baseUrl = normalizeUrl(baseUrl);
  }

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.credential.apiKey) headers['x-api-key'] = this.credential.apiKey;
    if (this.credential.bearer) headers.authorization = `Bearer ${this.credential.bearer}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';

    const stopSpinner = startSpinner(options.label ?? `Waiting for ${this.baseUrl}`);
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error', // a redirect could carry the key to another host
      });
      text = await response.text();
    } catch (error) {
      throw this.unreachable(error);
    } finally {
      stopSpinner();
    }

    let body: unknown = text;
    if (text && (response.headers.get('content-type') ?? '').includes('json')) {
      try {
        body = JSON.parse(text);
      } catch {
        // left as text; reported below if it was an error
      }
    }
    const ok = (response.status >= 200 && response.status < 300) || response.status === 304;
    if (!ok && !options.allow?.includes(response.status))
      throw problemError(response.status, body, response.headers, this.credential.keySource);
    return { status: response.status, headers: response.headers, body: body as T };
  }

  private unreachable(error: unknown): CliError {
    const err = error as Error & { cause?: { code?: string; message?: string } };
    let reason: string;
    if (err?.name === 'TimeoutError') reason = `no answer within ${Math.round(this.timeoutMs / 1000)} s`;
    else if (err?.cause?.code === 'ECONNREFUSED') reason = 'connection refused';
    else if (err?.cause?.code === 'ENOTFOUND') reason = 'host not found';
    else reason = err?.cause?.message ?? err?.message ?? String(error);
    return new CliError(`Cannot reach the Keyward server at ${this.baseUrl}: ${reason}.`, EXIT.UNREACHABLE);
  }
}

/** Seconds until a retry is allowed, from Retry-After (seconds or an HTTP date) or the body. */
export function retryAfterSeconds(headers: Headers, problem: Problem): number | undefined {
  const header = headers.get('retry-after');
  if (header && /^\d+$/.test(header.trim())) return Number(header.trim());
  if (header && !Number.isNaN(Date.parse(header)))
    return Math.max(0, Math.ceil((Date.parse(header) - Date.now()) / 1000));
  return problem.details?.retryAfterSeconds;
}

/** What is wrong with the key, naming where it came from ("the stored API key", "the API key in KEYWARD_API_KEY"). */
const KEY_PROBLEMS: Record<string, (key: string) => string> = {
  KEY_REVOKED: (key) => `${key} has been revoked.`,
  KEY_EXPIRED: (key) => `${key} has expired.`,
  KEY_DISABLED: (key) => `${key} is disabled.`,
  KEY_NOT_FOUND: (key) => `The server does not know ${key.replace(/^T/, 't')}.`,
  KEY_MALFORMED: (key) => `${key} is malformed (not a Keyward API key).`,
  KEY_MISSING: () => 'No API key was sent.',
};

const keyLabel = (source?: KeySource) =>
  source === 'KEYWARD_API_KEY' ? 'The API key in KEYWARD_API_KEY' : source ? 'The stored API key' : 'This API key';

/** Turns an error answer into a message for people and an exit code for scripts. */
export function problemError(status: number, body: unknown, headers: Headers, keySource?: KeySource): CliError {
  const problem: Problem = typeof body === 'object' && body !== null ? (body as Problem) : {};
  const message = problem.message ?? (typeof body === 'string' && body ? body.slice(0, 200) : `HTTP ${status}`);
  const code = problem.code;
  if (status === 401) {
    if (code === 'INVALID_CREDENTIALS') return new CliError('Invalid email or password.', EXIT.NOT_LOGGED_IN);
    const problem = KEY_PROBLEMS[code ?? ''];
    return notLoggedIn(problem ? problem(keyLabel(keySource)) : `${message}.`.replace(/\.\.$/, '.'));
  }
  if (status === 403) {
    if (code === 'INSUFFICIENT_SCOPE') {
      const needed = problem.details?.requiredScopes?.join(' ') ?? message;
      return new CliError(
        `Permission denied: this API key lacks the scope ${needed}. Sign in again with \`keyward login --scopes ...\` to get a key that has it.`,
        EXIT.FORBIDDEN,
      );
    }
    if (code === 'TENANT_SUSPENDED') return notLoggedIn('This tenant is suspended.');
    return new CliError(`Permission denied: ${message}`, EXIT.FORBIDDEN);
  }
  if (status === 429) {
    const seconds = retryAfterSeconds(headers, problem);
    const when =
      seconds === undefined
        ? 'later'
        : `in ${seconds} s (after ${new Date(Date.now() + seconds * 1000).toISOString()})`;
    if (code === 'QUOTA_EXCEEDED' && seconds === undefined)
      return new CliError(
        'This API key has used up its quota for good (it has no refill): retrying will not help; ask for a key with a new quota.',
        EXIT.RATE_LIMITED,
      );
    const what =
      code === 'TOO_MANY_ATTEMPTS'
        ? 'Too many sign-in attempts'
        : code === 'QUOTA_EXCEEDED'
          ? 'The quota of this API key is used up until it refills'
          : 'Rate limited by the server';
    return new CliError(`${what}; retry ${when}.`, EXIT.RATE_LIMITED);
  }
  if (status === 404) return new CliError(`Not found: ${message}`, EXIT.NOT_FOUND);
  const reference = [code, problem.requestId && `request ${problem.requestId}`].filter(Boolean).join(', ');
  return new CliError(`The server answered ${status}: ${message}${reference ? ` (${reference})` : ''}`);
}
