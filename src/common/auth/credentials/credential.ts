import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MaybePromise } from '../../maybe-promise';
import type { CredentialKind } from '../access.decorators';
import type { Principal } from '../principal';

/**
 * One way into the API. The global guard tries each credential a route allows, in the order of
 * the CREDENTIALS list (access.guard.ts), then authorizes, then meters.
 */
export interface Credential {
  readonly kind: CredentialKind;
  /**
   * Who the request's credential of this kind stands for. null when the request carries none
   * of this kind; throws (401/403) when it carries one that is not valid. Answers at once when
   * it can (a cached API key), so the hot path needs no promise.
   */
  identify(request: FastifyRequest): MaybePromise<Principal | null>;
  /** The route's rule refused the principal this credential identified: count the refusal. */
  refused?(request: FastifyRequest, code: string): void;
  /** The rule admitted it: spend what the request costs (rate limit, quota) and count the use. */
  meter?(request: FastifyRequest, reply: FastifyReply): MaybePromise<void>;
}

/** The injection token of the ordered credential list. */
export const CREDENTIALS = Symbol('CREDENTIALS');
