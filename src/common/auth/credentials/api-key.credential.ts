import { HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyVerifier, DenialCode } from '../../../api-keys/api-key-verifier.service';
import { CachedKey } from '../../../api-keys/key-cache';
import { AppException } from '../../http/problem';
import { MaybePromise, then } from '../../maybe-promise';
import { Principal } from '../principal';
import { Credential } from './credential';

export const API_KEY_HEADER = 'x-api-key';
const KEY_QUERY_PARAMETERS = ['api_key', 'apikey', 'apiKey', 'key', 'x-api-key', 'access_token'];

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key that identified this request; null for every other credential. */
    apiKey: CachedKey | null;
  }
}

/**
 * `x-api-key`. Identifying a key spends nothing: its rate limit and quota are spent in `meter`,
 * only once the route's rule has admitted it, and a refusal at any step is counted once.
 */
@Injectable()
export class ApiKeyCredential implements Credential {
  readonly kind = 'apiKey';

  constructor(private readonly verifier: ApiKeyVerifier) {}

  identify(request: FastifyRequest): MaybePromise<Principal> | null {
    const query = request.query as Record<string, unknown> | undefined;
    // Keys in URLs end up in proxy logs and browser history: refuse them outright.
    if (query && KEY_QUERY_PARAMETERS.some((name) => name in query)) {
      throw new AppException(
        HttpStatus.BAD_REQUEST,
        'KEY_IN_QUERY',
        'Send the API key in the x-api-key header, never in the URL',
      );
    }
    return this.identifyPresented(request, request.headers[API_KEY_HEADER]);
  }

  /**
   * The principal of a key presented some other way than `x-api-key` (forward-auth also takes a
   * key-shaped `Authorization: Bearer`): null when none was presented, otherwise as `identify`.
   */
  identifyPresented(request: FastifyRequest, header: string | string[] | undefined): MaybePromise<Principal> | null {
    if (header === undefined) return null;
    if (typeof header !== 'string' || header === '') throw this.verifier.refuse(undefined, 'KEY_MALFORMED');
    return then(this.verifier.find(header), (key) => {
      if (!key) throw this.verifier.refuse(key, key === null ? 'KEY_NOT_FOUND' : 'KEY_MALFORMED');
      const code = this.verifier.refusal(key, { ip: request.ip });
      if (code) throw this.verifier.refuse(key, code, request.ip);
      request.apiKey = key;
      return key.principal;
    });
  }

  refused(request: FastifyRequest, code: string): void {
    this.verifier.countDenial(request.apiKey!, code as DenialCode, request.ip);
  }

  meter(request: FastifyRequest, reply: FastifyReply): MaybePromise<void> {
    return this.verifier.spend(request.apiKey!, request.ip, reply);
  }
}
