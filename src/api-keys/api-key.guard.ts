import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Principal } from '../common/auth/principal';
import { AppException } from '../common/http/problem';
import { KeyDenialsService } from '../audit/key-denials.service';
import { ApiKeyVerifier, denial, Verification } from './api-key-verifier.service';

export const API_KEY_HEADER = 'x-api-key';
const KEY_QUERY_PARAMETERS = ['api_key', 'apikey', 'apiKey', 'key', 'x-api-key', 'access_token'];

/**
 * Authenticates `x-api-key`. The global access guard uses `authenticate` for routes whose rule
 * allows `apiKey`; as a guard it can also be applied alone with @UseGuards.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly verifier: ApiKeyVerifier,
    private readonly denials: KeyDenialsService,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const found = this.authenticate(context);
    if (found === null) throw new AppException(HttpStatus.UNAUTHORIZED, 'KEY_MISSING', 'An x-api-key header is required');
    const admit = (principal: Principal | null) => ((request.principal = principal), true);
    return found instanceof Promise ? found.then(admit) : admit(found);
  }

  /** null when the request carries no key; throws the denial when it carries a bad one. */
  authenticate(context: ExecutionContext): Principal | null | Promise<Principal> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const query = (request.query ?? {}) as Record<string, unknown>;
    // Keys in URLs end up in proxy logs and browser history: refuse them outright.
    if (KEY_QUERY_PARAMETERS.some((name) => name in query)) {
      throw new AppException(HttpStatus.BAD_REQUEST, 'KEY_IN_QUERY', 'Send the API key in the x-api-key header, never in the URL');
    }
    const header = request.headers[API_KEY_HEADER];
    if (header === undefined) return null;
    if (typeof header !== 'string' || header === '') throw new AppException(HttpStatus.UNAUTHORIZED, 'KEY_MALFORMED', 'This is not a valid API key');
    const ip = request.ip;
    const result = this.verifier.verify(header, { ip });
    return result instanceof Promise ? result.then((verified) => this.principalOf(verified, ip)) : this.principalOf(result, ip);
  }

  private principalOf(result: Verification, ip: string): Principal {
    if (result.valid) return result.key.principal;
    // Audited in aggregate, and only for a known key: an unknown or malformed key has no tenant to record it in.
    if (result.key) this.denials.note(result.key.tenantId, result.key.id, ip, result.code);
    throw denial(result.code);
  }
}
