import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Principal } from '../common/auth/principal';
import { AppException } from '../common/http/problem';
import { ApiKeyVerifier } from './api-key-verifier.service';

export const API_KEY_HEADER = 'x-api-key';
const KEY_QUERY_PARAMETERS = ['api_key', 'apikey', 'apiKey', 'key', 'x-api-key', 'access_token'];

/**
 * Authenticates `x-api-key`. The global access guard uses `authenticate` for routes whose rule
 * allows `apiKey`; as a guard it can also be applied alone with @UseGuards.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly verifier: ApiKeyVerifier) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const found = this.authenticate(context);
    if (found === null) throw new AppException(HttpStatus.UNAUTHORIZED, 'KEY_MISSING', 'An x-api-key header is required');
    const admit = (principal: Principal | null) => ((request.principal = principal), true);
    return found instanceof Promise ? found.then(admit) : admit(found);
  }

  /** null when the request carries no key; throws the denial when it carries a bad one. */
  authenticate(context: ExecutionContext): Principal | null | Promise<Principal> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const query = (request.query ?? {}) as Record<string, unknown>;
    // Keys in URLs end up in proxy logs and browser history: refuse them outright.
    if (KEY_QUERY_PARAMETERS.some((name) => name in query)) {
      throw new AppException(HttpStatus.BAD_REQUEST, 'KEY_IN_QUERY', 'Send the API key in the x-api-key header, never in the URL');
    }
    const header = request.headers[API_KEY_HEADER];
    if (header === undefined) return null;
    if (typeof header !== 'string' || header === '') throw new AppException(HttpStatus.UNAUTHORIZED, 'KEY_MALFORMED', 'This is not a valid API key');
    const reply = http.getResponse<FastifyReply>();
    return this.verifier.authenticate(header, request.ip, (limit) => {
      reply.header('ratelimit-limit', limit.limit);
      reply.header('ratelimit-remaining', limit.remaining);
      reply.header('ratelimit-reset', limit.resetSeconds);
    });
  }
}
