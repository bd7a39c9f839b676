import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Ip,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { bodyAs } from '../common/http/validation';
import { then } from '../common/maybe-promise';
import { AdminToken, Authenticated, CurrentPrincipal, Public } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { Client, ClientInfo } from '../common/http/client-info';
import { NoStore } from '../common/http/no-store';
import {
  AdminCreateApiKeyDto,
  CreateApiKeyDto,
  CreateTenantApiKeyDto,
  ListApiKeysQuery,
  ReportLeakDto,
  RevokeOwnApiKeyDto,
  RotateApiKeyDto,
  UpdateApiKeyDto,
  VerifyKeyDto,
} from './dto/api-keys.dto';
import { Idempotent } from '../idempotency/idempotency.interceptor';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyVerifier } from './api-key-verifier.service';
import { KeyLeaksService } from './key-leaks.service';
import { Clock } from '../common/clock';
import { PermissionQueryCache } from '../permissions/permission-query';
import { permissionQueryOf } from '../permissions/query-input';
import { verificationAnswer } from './verification-answer';
import { spendRequestOf } from './verify-answer';
import { ApiAcceptedResponse, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse } from '@nestjs/swagger';
import { ApiProblems } from '../common/http/problem.dto';
import {
  ApiKeyPageResponse,
  ApiKeyResponse,
  CreatedApiKeyResponse,
  KeyVerificationResponse,
  LeakReportResponse,
} from './dto/api-key-responses.dto';
import { Direct } from '../common/http/direct-route';

const CanReadKeys = () => Authenticated({ via: ['apiKey', 'jwt', 'session'], scopes: ['keys:read'] });
const CanWriteKeys = () => Authenticated({ via: ['apiKey', 'jwt', 'session'], scopes: ['keys:write'] });

@ApiTags('api-keys')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @CanWriteKeys()
  @Idempotent()
  @NoStore()
  @ApiOperation({ summary: 'Create a key in the caller’s tenant; the full key is returned only now' })
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  @ApiProblems(409, 422)
  createApiKey(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateTenantApiKeyDto,
    @Client() client: ClientInfo,
  ) {
    return this.keys.create(principal, dto, client);
  }

  @Get()
  @CanReadKeys()
  @ApiOperation({ summary: 'List keys (paginated; filter by owner and status)' })
  @ApiOkResponse({ type: ApiKeyPageResponse })
  listApiKeys(@CurrentPrincipal() principal: Principal, @Query() query: ListApiKeysQuery) {
    return this.keys.list(principal, query);
  }

  @Get(':id')
  @CanReadKeys()
  @ApiOperation({ summary: 'Get a key (never its secret)' })
  @ApiOkResponse({ type: ApiKeyResponse })
  @ApiProblems(404)
  getApiKey(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.keys.get(principal, id);
  }

  @Patch(':id')
  @CanWriteKeys()
  @ApiOperation({ summary: 'Rename, disable/enable, narrow scopes, shorten expiry, set limits or metadata' })
  @ApiOkResponse({ type: ApiKeyResponse })
  @ApiProblems(404, 409)
  updateApiKey(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() dto: UpdateApiKeyDto,
    @Client() client: ClientInfo,
  ) {
    return this.keys.update(principal, id, dto, client);
  }

  @Delete(':id')
  @CanWriteKeys()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke a key, at once and for good' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(404)
  revokeApiKey(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Client() client: ClientInfo,
  ) {
    return this.keys.revoke(principal, id, client);
  }

  @Post(':id/rotate')
  @CanWriteKeys()
  @Idempotent()
  @NoStore()
  @ApiOperation({ summary: 'Replace a key; the old one works until the grace period ends' })
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  @ApiProblems(404, 409, 422)
  rotateApiKey(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() dto: RotateApiKeyDto,
    @Client() client: ClientInfo,
  ) {
    return this.keys.rotate(principal, id, dto, client);
  }
}

/** The endpoints the command-line client uses after signing in. */
@ApiTags('api-keys')
@Controller('auth/api-key')
export class CliApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post('generate')
  @Idempotent()
  @NoStore()
  @Authenticated({ via: ['jwt', 'session'], scopes: ['keys:write'] })
  @ApiOperation({ summary: 'Create a key for the signed-in user' })
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  @ApiProblems(400, 409, 422)
  generateApiKey(@CurrentPrincipal() principal: Principal, @Body() dto: CreateApiKeyDto, @Client() client: ClientInfo) {
    return this.keys.create(principal, { ...dto, userId: principal.userId }, client);
  }

  @Get('list')
  @Authenticated({ via: ['jwt', 'session'] })
  @ApiOperation({ summary: 'The signed-in user’s active keys' })
  @ApiOkResponse({ type: [ApiKeyResponse] })
  listOwnApiKeys(@CurrentPrincipal() principal: Principal) {
    return this.keys.listOwnActive(principal);
  }

  @Delete()
  @Authenticated({ via: ['apiKey'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke the key making this request (the CLI signing out); needs no scope' })
  @ApiNoContentResponse({ description: 'Done' })
  revokeCallingApiKey(@CurrentPrincipal() principal: Principal, @Client() client: ClientInfo) {
    return this.keys.revokeCalling(principal, client);
  }

  @Post('revoke')
  @Authenticated({ via: ['jwt', 'session'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke one of the user’s keys, given its full value or its id in the body' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(400, 404)
  revokeOwnApiKey(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: RevokeOwnApiKeyDto,
    @Client() client: ClientInfo,
  ) {
    return this.keys.revokeOwn(principal, dto.key, client);
  }

  /** Kept for older clients: a full key in the path ends up in access logs and proxies' logs. */
  @Delete('revoke/:key')
  @Authenticated({ via: ['jwt', 'session'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    deprecated: true,
    summary: 'Deprecated: use POST /auth/api-key/revoke (this form puts the key in the URL)',
  })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(404)
  revokeOwnApiKeyByPath(
    @CurrentPrincipal() principal: Principal,
    @Param('key') key: string,
    @Client() client: ClientInfo,
  ) {
    return this.keys.revokeOwn(principal, key, client);
  }
}

@ApiTags('admin')
@Controller('admin/api-keys')
export class AdminApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @AdminToken()
  @Idempotent()
  @NoStore()
  @ApiOperation({ summary: 'Create a key for a tenant (its first one)' })
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  @ApiProblems(400, 404, 409, 422)
  adminCreateApiKey(@Body() dto: AdminCreateApiKeyDto, @Client() client: ClientInfo) {
    return this.keys.adminCreate(dto, client);
  }
}

/** For other services: is this key (of my tenant) valid, and for which scopes? */
@ApiTags('api-keys')
@Controller('v1/keys')
export class VerifyKeysController {
  /** Services send the same few queries again and again: each text is parsed once. */
  private readonly queries = new PermissionQueryCache();

  constructor(
    private readonly verifier: ApiKeyVerifier,
    private readonly leaks: KeyLeaksService,
    private readonly clock: Clock,
  ) {}

  @Post('report-leak')
  @Public()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Report a key found in public; a valid one is revoked at once (same answer either way)' })
  @ApiAcceptedResponse({ type: LeakReportResponse })
  @ApiProblems(400, 429)
  reportLeakedKey(@Body() dto: ReportLeakDto, @Ip() ip: string) {
    return this.leaks.reportLeak(dto, ip);
  }

  @Post('verify')
  @Authenticated({ via: ['apiKey'], scopes: ['keys:verify'] })
  @HttpCode(HttpStatus.OK)
  @Direct()
  @ApiOperation({
    summary:
      'Verify a key of the caller’s tenant, optionally against a permission query; the answer tells what the key may do',
  })
  @ApiBody({ type: VerifyKeyDto })
  @ApiOkResponse({ type: KeyVerificationResponse })
  @ApiProblems(400)
  // Only @Req, as on GET /config: a direct route (the one services call on every request of
  // theirs) has no pipes, so the body is validated by bodyAs as the global pipe would (the same
  // 400s). A cached key without a quota is answered without a promise.
  verifyKey(@Req() request: FastifyRequest) {
    const principal = request.principal!;
    return then(bodyAs(VerifyKeyDto, request.body), (dto) => {
      // A malformed query is the caller's mistake whatever the key: 400 before the key is looked at.
      const query =
        dto.permissions === undefined ? undefined : permissionQueryOf(this.queries, dto.permissions, 'permissions');
      const found = this.verifier.verifyFor(
        principal.tenantId!,
        dto.key,
        dto.requiredScopes,
        query,
        spendRequestOf(dto),
      );
      return then(found, (verification) => verificationAnswer(verification, query, this.clock.now().getTime()));
    });
  }
}
