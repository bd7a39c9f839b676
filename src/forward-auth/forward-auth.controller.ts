import { All, Controller, Get, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiHeader, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CachedKey } from '../api-keys/key-cache';
import { ForwardAuth } from '../common/auth/access.decorators';
import { admit } from '../common/auth/access.guard';
import { Credential } from '../common/auth/credentials/credential';
import { then } from '../common/maybe-promise';
import { ForwardAuthKeyCredential } from './forward-auth.credential';
import { ForwardAuthFilter, PROXY_HEADER } from './forward-auth.filter';
import { REQUIRE_PERMISSIONS_HEADER, REQUIRE_SCOPES_HEADER, RequiredScopeRules } from './required-scopes';

/** The identity a proxy copies onto the request it lets through. */
function sendIdentity(reply: FastifyReply, key: CachedKey): undefined {
  reply
    .header('x-keyward-tenant', key.tenantId)
    .header('x-keyward-key-id', key.id)
    .header('x-keyward-owner', key.userId ?? '')
    .header('x-keyward-identity', key.identity?.externalId ?? '')
    .header('x-keyward-scopes', key.scopes.join(' '))
    .header('x-keyward-permissions', key.permissions.join(' '))
    .header('x-keyward-roles', key.roles.join(' '));
  return undefined;
}

/**
 * Forward authentication for reverse proxies (nginx `auth_request`, Caddy `forward_auth`,
 * Traefik ForwardAuth, Envoy HTTP ext_authz): may the request the proxy describes go through?
 * GET (and HEAD) as nginx, Caddy and Traefik send it; any method at any path below it for Envoy.
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

  @Get()
  @ForwardAuth()
  @ApiHeader({
    name: REQUIRE_SCOPES_HEADER,
    required: false,
    description: 'Scopes the key must hold (set by the proxy, never the client)',
  })
  @ApiHeader({
    name: REQUIRE_PERMISSIONS_HEADER,
    required: false,
    description:
      'A permission query on the key’s tenant permissions, e.g. `orders:write AND (orders:read OR admin)` (set by the proxy, never the client); refused with 403 INSUFFICIENT_PERMISSIONS',
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
  @ApiOkResponse({
    description: 'The key may make this request; no body',
    headers: {
      'X-Keyward-Tenant': { description: 'The key’s tenant', schema: { type: 'string' } },
      'X-Keyward-Key-Id': { description: 'The key’s id', schema: { type: 'string' } },
      'X-Keyward-Owner': { description: 'The owner’s user id; empty for a service key', schema: { type: 'string' } },
      'X-Keyward-Identity': {
        description: 'The externalId of the key’s identity in the tenant’s own system; empty when it has none',
        schema: { type: 'string' },
      },
      'X-Keyward-Scopes': { description: 'The key’s scopes, space-separated', schema: { type: 'string' } },
      'X-Keyward-Permissions': {
        description: 'The key’s effective tenant permissions (its own and its roles’), space-separated',
        schema: { type: 'string' },
      },
      'X-Keyward-Roles': { description: 'The key’s tenant roles, space-separated', schema: { type: 'string' } },
    },
  })
  // @Req and @Res only, and synchronous for a cached key, as GET /config (see there).
  checkForwardedRequest(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const rule = this.rules.ruleFor(
      request.headers[REQUIRE_SCOPES_HEADER],
      request.headers[REQUIRE_PERMISSIONS_HEADER],
    );
    return then(admit(this.credentials, rule, request, reply), () => sendIdentity(reply, request.apiKey!));
  }

  /** The same check for Envoy (path_prefix /v1/forward-auth/envoy): the original method, the original path appended. */
  @All('*')
  @ForwardAuth()
  @ApiExcludeEndpoint()
  checkForwardedRequestAtPath(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.checkForwardedRequest(request, reply);
  }
}
