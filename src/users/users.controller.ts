import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Patch, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { InviteUserDto, UpdateUserDto } from './dto/users.dto';
import { Idempotent } from '../idempotency/idempotency.interceptor';
import { UsersService } from './users.service';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse } from '@nestjs/swagger';
import { ApiProblems } from '../common/http/problem.dto';
import { UserResponse } from './dto/user-responses.dto';

@ApiTags('users')
@Controller('v1/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @Authenticated({ via: ['jwt', 'session', 'apiKey'], scopes: ['users:read'] })
  @ApiOperation({ summary: 'Users of the caller’s tenant' })
  @ApiOkResponse({ type: [UserResponse] })
  listUsers(@CurrentPrincipal() principal: Principal) {
    return this.users.list(principal.tenantId!);
  }

  @Patch(':id')
  @Authenticated({ via: ['jwt', 'session'], roles: ['owner', 'admin'] })
  @ApiOperation({ summary: 'Change a user’s role or status (owners manage everyone, admins members and viewers)' })
  @ApiOkResponse({ type: UserResponse })
  @ApiProblems(400, 404, 409)
  updateUser(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() dto: UpdateUserDto,
  ) {
    return this.users.update(principal, id, dto);
  }

  @Delete(':id')
  @Authenticated({ via: ['jwt', 'session'], roles: ['owner', 'admin'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary:
      'Remove someone from the caller’s tenant: their sessions and keys here end at once; their other tenants are untouched',
  })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(400, 403, 404, 409)
  removeUser(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.users.remove(principal, id);
  }

  @Post('invitations')
  @Idempotent()
  @Authenticated({ via: ['jwt', 'session'], roles: ['owner', 'admin'] })
  @ApiOperation({ summary: 'Invite someone by email' })
  @ApiCreatedResponse({ type: UserResponse })
  @ApiProblems(400, 409, 422)
  inviteUser(@CurrentPrincipal() principal: Principal, @Body() dto: InviteUserDto) {
    return this.users.invite(principal, dto);
  }
}
