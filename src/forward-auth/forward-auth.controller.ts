import { All, Controller, Req, Res, UseFilters } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CachedKey } from '../api-keys/key-cache';
import { Public } from '../common/auth/access.decorators';
import { admit } from '../common/auth/access.guard';
import { Credential } from '../common/auth/credentials/credential';
import { then } from '../common/maybe-promise';
import { ForwardAuthKeyCredential } from './forward-auth.credential';
import { ForwardAuthFilter, PROXY_HEADER } from './forward-auth.filter';
import { REQUIRE_SCOPES_HEADER, RequiredScopeRules } from './required-scopes';

/** The identity a proxy copies onto the request it lets through. */
function sendIdentity(reply: FastifyReply, key: CachedKey): undefined {
  reply
    .header('x-keyward-tenant', key.tenantId)
    .header('x-keyward-key-id', key.id)
    .header('x-keyward-owner', key.userId ?? '')
    .header('x-keyward-identity', '')
    .header('x-keyward-scopes', key.scopes.join(' '));
  return undefined;
}

/**
 * Forward authentication for reverse proxies (nginx `auth_request`, Caddy `forward_auth`,
 * Traefik ForwardAuth, Envoy HTTP ext_authz): may the request the proxy describes go through?
 * Answers every method, and any path below it (Envoy appends the original path).
 */
@ApiTags('forward-auth')
@Controller('v1/forward-auth')
@UseFilters(ForwardAuthFilter)
export class ForwardAuthController {
  private readonly credentials: readonly Credential[];

  constructor(
    credential: ForwardAuthKeyCredential,
    private readonly rules: RequiredScopeRules,
  ) {
    this.credentials = [credential];
  }

  @All(['', '*'])
  // Reachable by anyone, as the proxy forwards anyone's request: the handler admits the key
  // itself, through the same identify → authorize → meter steps as the global guard, because
  // the scopes it requires come with each request rather than with the route.
  @Public()
  @ApiSecurity('apiKey')
  @ApiHeader({
    name: REQUIRE_SCOPES_HEADER,
    required: false,
    description: 'Scopes the key must hold (set by the proxy, never the client)',
  })
  @ApiHeader({
    name: PROXY_HEADER,
    required: false,
    description: '`nginx`: answer 429 as 403 with X-Keyward-Status: 429',
  })
  @ApiQuery({ name: 'proxy', required: false, enum: ['nginx'], description: 'As the X-Keyward-Proxy header' })
  @ApiOperation({
    summary: 'Forward-auth for reverse proxies: 200 with the key’s identity in X-Keyward-* headers, else 401/403/429',
  })
  // @Req and @Res only, and synchronous for a cached key, as GET /config (see there).
  checkForwardedRequest(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const rule = this.rules.ruleFor(request.headers[REQUIRE_SCOPES_HEADER]);
    return then(admit(this.credentials, rule, request, reply), () => sendIdentity(reply, request.apiKey!));
  }
}
