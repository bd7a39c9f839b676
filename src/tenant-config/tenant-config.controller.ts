import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Put, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { Client, ClientInfo } from '../common/http/client-info';
import { PutConfigEntryDto } from './dto/tenant-config.dto';
import { ConfigDocument, TenantConfigService } from './tenant-config.service';
import { then } from '../common/maybe-promise';
import { ApiNoContentResponse, ApiNotModifiedResponse, ApiOkResponse } from '@nestjs/swagger';
import { ApiProblems } from '../common/http/problem.dto';
import { ConfigEntryResponse } from './dto/tenant-config-responses.dto';
import { Direct } from '../common/http/direct-route';

/** The document's JSON with its ETag, or 304 when the client already holds this version. */
/** How many secret entries a key without config:secrets was not sent. */
export const OMITTED_SECRETS_HEADER = 'keyward-omitted-secrets';

function sendDocument(
  { json, etag, omittedSecrets }: ConfigDocument,
  request: FastifyRequest,
  reply: FastifyReply,
): string | undefined {
  reply.header('etag', etag).header('cache-control', 'private, no-cache');
  if (omittedSecrets) reply.header(OMITTED_SECRETS_HEADER, String(omittedSecrets));
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim() === etag)) {
    reply.status(HttpStatus.NOT_MODIFIED);
    return undefined;
  }
  reply.type('application/json; charset=utf-8');
  return json;
}

@ApiTags('config')
@Controller()
export class TenantConfigController {
  constructor(private readonly config: TenantConfigService) {}

  @Get('config')
  @Authenticated({ via: ['apiKey'], scopes: ['config:read'] })
  @Direct()
  @ApiOperation({ summary: 'The tenant’s configuration as one JSON object (ETag / If-None-Match)' })
  // The hottest route: called by Fastify directly (@Direct), so it takes only @Req and @Res, and
  // stays synchronous while the tenant's document is cached (a promise costs per request).
  @ApiOkResponse({
    description: 'The configuration: one JSON object of key to value',
    schema: { type: 'object', additionalProperties: true },
    headers: { ETag: { description: 'Send back in If-None-Match', schema: { type: 'string' } } },
  })
  @ApiNotModifiedResponse({
    description: 'If-None-Match names the current version; no body',
    headers: { ETag: { description: 'The current version', schema: { type: 'string' } } },
  })
  getConfig(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    return then(this.config.document(request.principal!), (document) => sendDocument(document, request, reply));
  }

  @Get('v1/config/entries')
  @Authenticated({ via: ['apiKey', 'jwt', 'session'], roles: ['owner', 'admin'], scopes: ['config:write'] })
  @ApiOperation({ summary: 'Configuration entries, secret values masked (for those who manage them)' })
  @ApiOkResponse({ type: [ConfigEntryResponse] })
  listConfigEntries(@CurrentPrincipal() principal: Principal) {
    return this.config.list(principal.tenantId!);
  }

  @Put('v1/config/entries/:key')
  @Authenticated({ via: ['apiKey', 'jwt', 'session'], roles: ['owner', 'admin'], scopes: ['config:write'] })
  @ApiOperation({ summary: 'Set a configuration entry (secret values are encrypted at rest)' })
  @ApiOkResponse({ type: ConfigEntryResponse })
  putConfigEntry(
    @CurrentPrincipal() principal: Principal,
    @Param('key') key: string,
    @Body() dto: PutConfigEntryDto,
    @Client() client: ClientInfo,
  ) {
    return this.config.put(principal, key, dto, client);
  }

  @Delete('v1/config/entries/:key')
  @Authenticated({ via: ['apiKey', 'jwt', 'session'], roles: ['owner', 'admin'], scopes: ['config:write'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a configuration entry' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(404)
  deleteConfigEntry(@CurrentPrincipal() principal: Principal, @Param('key') key: string, @Client() client: ClientInfo) {
    return this.config.remove(principal, key, client);
  }
}
