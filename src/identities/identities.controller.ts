import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { ApiProblems } from '../common/http/problem.dto';
import {
  CreateIdentityDto,
  DeleteIdentityQuery,
  IdentityPageResponse,
  IdentityResponse,
  ListIdentitiesQuery,
  RevokedIdentityKeysResponse,
  UpdateIdentityDto,
} from './dto/identities.dto';
import { ExternalIdPipe } from './external-id.pipe';
import { IdentitiesService } from './identities.service';

const CanReadKeys = () => Authenticated({ via: ['apiKey', 'jwt', 'session'], scopes: ['keys:read'] });
const CanWriteKeys = () => Authenticated({ via: ['apiKey', 'jwt', 'session'], scopes: ['keys:write'] });

/** Identities of the tenant's own system, named by its id for them (`externalId`). */
@ApiTags('identities')
@Controller('v1/identities')
export class IdentitiesController {
  constructor(private readonly identities: IdentitiesService) {}

  @Post()
  @CanWriteKeys()
  @ApiOperation({ summary: 'Create an identity, optionally with limits and a quota shared by its keys' })
  @ApiCreatedResponse({ type: IdentityResponse })
  @ApiProblems(409)
  createIdentity(@CurrentPrincipal() principal: Principal, @Body() dto: CreateIdentityDto) {
    return this.identities.create(principal, dto);
  }

  @Get()
  @CanReadKeys()
  @ApiOperation({ summary: 'List identities (paginated, by externalId)' })
  @ApiOkResponse({ type: IdentityPageResponse })
  listIdentities(@CurrentPrincipal() principal: Principal, @Query() query: ListIdentitiesQuery) {
    return this.identities.list(principal, query);
  }

  @Get(':externalId')
  @CanReadKeys()
  @ApiOperation({ summary: 'Get an identity by its externalId' })
  @ApiOkResponse({ type: IdentityResponse })
  @ApiProblems(404)
  getIdentity(@CurrentPrincipal() principal: Principal, @Param('externalId', ExternalIdPipe) externalId: string) {
    return this.identities.get(principal, externalId);
  }

  @Patch(':externalId')
  @CanWriteKeys()
  @ApiOperation({ summary: 'Change an identity’s meta, shared limits or quota' })
  @ApiOkResponse({ type: IdentityResponse })
  @ApiProblems(404)
  updateIdentity(
    @CurrentPrincipal() principal: Principal,
    @Param('externalId', ExternalIdPipe) externalId: string,
    @Body() dto: UpdateIdentityDto,
  ) {
    return this.identities.update(principal, externalId, dto);
  }

  @Delete(':externalId')
  @CanWriteKeys()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete an identity; refused while keys belong to it, unless ?force=true' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(404, 409)
  deleteIdentity(
    @CurrentPrincipal() principal: Principal,
    @Param('externalId', ExternalIdPipe) externalId: string,
    @Query() query: DeleteIdentityQuery,
  ) {
    return this.identities.remove(principal, externalId, query.force === 'true');
  }

  @Post(':externalId/revoke-keys')
  @CanWriteKeys()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Revoke every key of the identity (that the caller sees), at once and for good' })
  @ApiOkResponse({ type: RevokedIdentityKeysResponse })
  @ApiProblems(404)
  revokeIdentityKeys(
    @CurrentPrincipal() principal: Principal,
    @Param('externalId', ExternalIdPipe) externalId: string,
  ) {
    return this.identities.revokeKeys(principal, externalId);
  }
}
