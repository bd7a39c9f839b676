import { createHash } from 'node:crypto';
import { AnswerCache } from './answer-cache';
import { ErrorBody, RefusedKey, VERIFY_KEY_OPERATION, VerifyKeyRequest, VerifyKeyResult } from './contract';
import { KeywardError } from './errors';

export interface KeywardClientOptions {
  /** Where Keyward answers, e.g. `https://keyward.internal`. */
  baseUrl: string;
  /** A key of your tenant with the `keys:verify` scope: the service's own credential. */
  apiKey: string;
  /** How long one verification may take before it fails with KEYWARD_TIMEOUT. Default 2000 ms. */
  timeoutMs?: number;
  /**
   * How long a valid answer is reused without asking the service again. A key revoked at the
   * service is still accepted here for at most this long, and reused answers spend none of the
   * key's rate limit at the service. Default 10 000 ms; 0 turns the cache off. Refusals are never cached.
   */
  cacheTtlMs?: number;
  /** Most answers kept at once; the least recently used are dropped first. Default 1000. */
  cacheMaxEntries?: number;
  /** For tests: the fetch and the clock to use. */
  fetch?: typeof fetch;
  now?: () => number;
}

export interface VerifyKeyOptions {
  /** Scopes the key must hold; otherwise the answer is INSUFFICIENT_SCOPE. */
  requiredScopes?: readonly string[];
  /**
   * A permission query on the key's tenant permissions (`orders:write AND (orders:read OR
   * admin)`); otherwise the answer is INSUFFICIENT_PERMISSIONS with `missingPermissions`.
   */
  permissions?: string;
}

/** The service refuses keys outside these lengths with a 400; we answer as it would for the key. */
const MAX_KEY_LENGTH = 256;

/** Client for Keyward's verification API (`POST /v1/keys/verify`). */
export class KeywardClient {
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  private readonly cache: AnswerCache<VerifyKeyResult>;
  /** Verifications on their way, so a burst with one key asks the service once. */
  private readonly inFlight = new Map<string, Promise<VerifyKeyResult>>();

  constructor(private readonly options: KeywardClientOptions) {
    if (!options.baseUrl) throw new TypeError('KeywardClient: baseUrl is required');
    if (!options.apiKey) throw new TypeError('KeywardClient: apiKey (a key with the keys:verify scope) is required');
    this.endpoint = new URL(VERIFY_KEY_OPERATION.path, options.baseUrl).toString();
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.cache = new AnswerCache(
      options.cacheTtlMs ?? 10_000,
      options.cacheMaxEntries ?? 1000,
      options.now ?? Date.now,
    );
  }

  /**
   * Is this key (of the client's tenant) valid, with these scopes? A refusal is an answer
   * (`valid: false` and its code); a failure to ask throws KeywardError.
   */
  async verifyKey(key: string, options: VerifyKeyOptions = {}): Promise<VerifyKeyResult> {
    if (typeof key !== 'string' || key.length === 0) return refused('KEY_MISSING');
    if (key.length > MAX_KEY_LENGTH) return refused('KEY_MALFORMED');
    const requiredScopes = [...new Set(options.requiredScopes ?? [])].sort();
    const permissions = options.permissions;
    const digest = createHash('sha256')
      .update(key)
      .update('\0')
      .update(requiredScopes.join(' '))
      .update('\0')
      .update(permissions ?? '')
      .digest('hex');

    const cached = this.cache.get(digest);
    if (cached) return cached;
    const pending = this.inFlight.get(digest);
    if (pending) return pending;

    const body: VerifyKeyRequest = {
      key,
      ...(requiredScopes.length ? { requiredScopes } : {}),
      ...(permissions !== undefined ? { permissions } : {}),
    };
    const asking = this.post(body)
      .then((answer) => {
        if (answer.valid) this.cache.set(digest, answer);
        return answer;
      })
      .finally(() => this.inFlight.delete(digest));
    this.inFlight.set(digest, asking);
    return asking;
  }

  /** Forgets every cached answer (e.g. when your service learns of a revocation itself). */
  clearCache(): void {
    this.cache.clear();
  }

  private async post(body: VerifyKeyRequest): Promise<VerifyKeyResult> {
    let response: Response;
    try {
      response = await this.fetch(this.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          [VERIFY_KEY_OPERATION.apiKeyHeader]: this.options.apiKey,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const timedOut = (error as Error)?.name === 'TimeoutError';
      throw new KeywardError(
        timedOut
          ? `Keyward did not answer within ${this.timeoutMs} ms`
          : `Keyward could not be reached at ${this.endpoint}`,
        timedOut ? 'KEYWARD_TIMEOUT' : 'KEYWARD_UNREACHABLE',
        undefined,
        undefined,
        undefined,
        { cause: error },
      );
    }
    const payload = await readJson(response, this.timeoutMs);
    if (response.ok && isVerifyKeyResult(payload)) return payload;
    if (response.ok)
      throw new KeywardError('Keyward sent an answer this client cannot read', 'KEYWARD_BAD_RESPONSE', response.status);
    const error = isErrorBody(payload) ? payload : undefined;
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new KeywardError(
      `Keyward refused the verification: ${response.status} ${error?.code ?? ''} ${error?.message ?? ''}`.trim(),
      error?.code ?? 'KEYWARD_BAD_RESPONSE',
      response.status,
      error,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
}

function refused(code: RefusedKey['code']): RefusedKey {
  return { valid: false, code };
}

async function readJson(response: Response, timeoutMs: number): Promise<unknown> {
  try {
    return await response.json();
  } catch (error) {
    const timedOut = (error as Error)?.name === 'TimeoutError';
    if (timedOut) throw new KeywardError(`Keyward did not answer within ${timeoutMs} ms`, 'KEYWARD_TIMEOUT');
    return undefined;
  }
}

function isVerifyKeyResult(value: unknown): value is VerifyKeyResult {
  const answer = value as VerifyKeyResult | undefined;
  return typeof answer?.valid === 'boolean' && typeof answer.code === 'string';
}

function isErrorBody(value: unknown): value is ErrorBody {
  const body = value as ErrorBody | undefined;
  return typeof body?.statusCode === 'number' && typeof body.message === 'string';
}
