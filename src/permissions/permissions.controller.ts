import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { ApiProblems } from '../common/http/problem.dto';
import {
  CreatePermissionDto,
  CreateRoleDto,
  DeleteGrantQuery,
  PermissionResponse,
  RoleResponse,
  UpdateRoleDto,
} from './dto/permissions.dto';
import { PERMISSION_NAME_GRAMMAR } from './permission-name';
import { PermissionsService } from './permissions.service';

/**
 * Everyone of the tenant may read the permissions and roles (members give them to keys);
 * only owners and admins, or keys with permissions:write, define them: a change of a role is a
 * change of every key that carries it.
 */
const CanRead = () => Authenticated({ via: ['apiKey', 'jwt', 'session'], scopes: ['permissions:read'] });
const CanWrite = () =>
  Authenticated({ via: ['apiKey', 'jwt', 'session'], roles: ['owner', 'admin'], scopes: ['permissions:write'] });

@ApiTags('permissions')
@Controller('v1/permissions')
export class PermissionsController {
  constructor(private readonly permissions: PermissionsService) {}

  @Get()
  @CanRead()
  @ApiOperation({ summary: 'The tenant’s own permissions, by name' })
  @ApiOkResponse({ type: [PermissionResponse] })
  listPermissions(@CurrentPrincipal() principal: Principal) {
    return this.permissions.listPermissions(principal.tenantId!);
  }

  @Post()
  @CanWrite()
  @ApiOperation({ summary: `Define a permission of the tenant’s own API. A name is ${PERMISSION_NAME_GRAMMAR}` })
  @ApiCreatedResponse({ type: PermissionResponse })
  @ApiProblems(409)
  createPermission(@CurrentPrincipal() principal: Principal, @Body() dto: CreatePermissionDto) {
    return this.permissions.createPermission(principal, dto);
  }

  @Delete(':name')
  @CanWrite()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a permission; 409 listing the keys and roles that carry it, unless ?force=true' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(404, 409)
  deletePermission(
    @CurrentPrincipal() principal: Principal,
    @Param('name') name: string,
    @Query() query: DeleteGrantQuery,
  ) {
    return this.permissions.deletePermission(principal, name, query.force === 'true');
  }
}

@ApiTags('permissions')
@Controller('v1/roles')
export class RolesController {
  constructor(private readonly permissions: PermissionsService) {}

  @Get()
  @CanRead()
  @ApiOperation({ summary: 'The tenant’s roles with their permissions' })
  @ApiOkResponse({ type: [RoleResponse] })
  listRoles(@CurrentPrincipal() principal: Principal) {
    return this.permissions.listRoles(principal.tenantId!);
  }

  @Get(':name')
  @CanRead()
  @ApiOperation({ summary: 'One role with its permissions' })
  @ApiOkResponse({ type: RoleResponse })
  @ApiProblems(404)
  getRole(@CurrentPrincipal() principal: Principal, @Param('name') name: string) {
    return this.permissions.getRole(principal.tenantId!, name);
  }

  @Post()
  @CanWrite()
  @ApiOperation({ summary: 'Define a role: a named set of the tenant’s permissions' })
  @ApiCreatedResponse({ type: RoleResponse })
  @ApiProblems(409)
  createRole(@CurrentPrincipal() principal: Principal, @Body() dto: CreateRoleDto) {
    return this.permissions.createRole(principal, dto);
  }

  @Patch(':name')
  @CanWrite()
  @ApiOperation({ summary: 'Change a role’s permissions or description; keys carrying it change at once' })
  @ApiOkResponse({ type: RoleResponse })
  @ApiProblems(404)
  updateRole(@CurrentPrincipal() principal: Principal, @Param('name') name: string, @Body() dto: UpdateRoleDto) {
    return this.permissions.updateRole(principal, name, dto);
  }

  @Delete(':name')
  @CanWrite()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a role; 409 listing the keys that carry it, unless ?force=true' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(404, 409)
  deleteRole(@CurrentPrincipal() principal: Principal, @Param('name') name: string, @Query() query: DeleteGrantQuery) {
    return this.permissions.deleteRole(principal, name, query.force === 'true');
  }
}
