import { Controller, Get, Param, ParseUUIDPipe, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { UsageQuery } from './dto/usage.dto';
import { UsageService } from './usage.service';
import { ApiOkResponse } from '@nestjs/swagger';
import { ApiProblems } from '../common/http/problem.dto';
import { UsageResponse } from './dto/usage-responses.dto';

@ApiTags('usage')
@Controller('v1')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get('api-keys/:id/usage')
  @Authenticated({ via: ['apiKey', 'jwt', 'session'], scopes: ['keys:read'] })
  @ApiOperation({ summary: 'A key’s successes and denials by code, per hour or day' })
  @ApiOkResponse({ type: UsageResponse })
  @ApiProblems(404)
  getApiKeyUsage(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() query: UsageQuery,
  ) {
    return this.usage.forKey(principal, id, query);
  }

  @Get('usage')
  @Authenticated({ via: ['apiKey', 'jwt', 'session'], roles: ['owner', 'admin'], scopes: ['keys:read'] })
  @ApiOperation({ summary: 'The tenant’s key usage, per hour or day' })
  @ApiOkResponse({ type: UsageResponse })
  getTenantUsage(@CurrentPrincipal() principal: Principal, @Query() query: UsageQuery) {
    return this.usage.forTenant(principal, query);
  }
}
