import { Body, Controller, Get, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ADMIN_ACTOR } from '../audit/dto/audit.dto';
import { AdminToken } from '../common/auth/access.decorators';
import { Client, ClientInfo } from '../common/http/client-info';
import { PageQuery } from '../common/http/pagination';
import { Idempotent } from '../idempotency/idempotency.interceptor';
import { CreateUserDto } from '../users/dto/users.dto';
import { UsersService } from '../users/users.service';
import { CreateTenantDto, UpdateTenantDto } from './dto/tenants.dto';
import { TenantsService } from './tenants.service';
import { ApiCreatedResponse, ApiOkResponse } from '@nestjs/swagger';
import { ApiProblems } from '../common/http/problem.dto';
import { CreatedUserResponse } from '../users/dto/user-responses.dto';
import { TenantPageResponse, TenantResponse } from './dto/tenant-responses.dto';

@ApiTags('admin')
@Controller('admin/tenants')
@AdminToken()
export class AdminTenantsController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly users: UsersService,
  ) {}

  @Post()
  @Idempotent()
  @ApiOperation({ summary: 'Create a tenant' })
  @ApiCreatedResponse({ type: TenantResponse })
  @ApiProblems(400, 409, 422)
  createTenant(@Body() dto: CreateTenantDto, @Client() client: ClientInfo) {
    return this.tenants.create(dto, { actor: ADMIN_ACTOR, client });
  }

  @Get()
  @ApiOperation({ summary: 'List tenants' })
  @ApiOkResponse({ type: TenantPageResponse })
  @ApiProblems(400)
  listTenants(@Query() query: PageQuery) {
    return this.tenants.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a tenant' })
  @ApiOkResponse({ type: TenantResponse })
  @ApiProblems(400, 404)
  getTenant(@Param('id', new ParseUUIDPipe()) id: string) {
    return this.tenants.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Update a tenant (name, status, limits, default key scopes)' })
  @ApiOkResponse({ type: TenantResponse })
  @ApiProblems(400, 404)
  updateTenant(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() dto: UpdateTenantDto,
    @Client() client: ClientInfo,
  ) {
    return this.tenants.update(id, dto, { actor: ADMIN_ACTOR, client });
  }

  @Post(':id/users')
  @Idempotent()
  @ApiOperation({ summary: 'Create a user in a tenant; without a password the user is invited' })
  @ApiCreatedResponse({ type: CreatedUserResponse })
  @ApiProblems(400, 404, 409, 422)
  createUser(@Param('id', new ParseUUIDPipe()) id: string, @Body() dto: CreateUserDto) {
    return this.users.createByAdmin(id, dto);
  }
}
