import { ErrorBody } from './contract';

/**
 * The verification could not be done: the service answered with an error (its body is kept),
 * or it could not be reached in time. Never a verdict on the key itself — a guard must refuse
 * the request (default-deny), not let it through.
 */
export class KeywardError extends Error {
  override readonly name = 'KeywardError';

  constructor(
    message: string,
    /** The service's code (`RATE_LIMITED`, `KEY_REVOKED`…), or KEYWARD_TIMEOUT / KEYWARD_UNREACHABLE / KEYWARD_BAD_RESPONSE. */
    readonly code: string,
    /** HTTP status of the service's answer; undefined when there was none. */
    readonly status?: number,
    /** The service's error body, when it sent one. */
    readonly body?: ErrorBody,
    /** Seconds to wait, from the service's Retry-After. */
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get requestId(): string | undefined {
    return this.body?.requestId;
  }
}
