import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, registerDecorator } from 'class-validator';
import {
  isPermissionName,
  LIMITS,
  NAME_MAX_LENGTH,
  PERMISSION_NAME_GRAMMAR,
  PERMISSION_NAME_PATTERN,
} from '../permission-name';

/** A permission or role name of the grammar in permission-name.ts. */
export function IsPermissionName() {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isPermissionName',
      target: target.constructor,
      propertyName,
      validator: {
        validate: isPermissionName,
        defaultMessage: () => `${propertyName} must be ${PERMISSION_NAME_GRAMMAR}`,
      },
    });
}

function namesProblem(value: unknown, max: number): string | undefined {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) return 'must be an array of names';
  if (value.length > max) return `must name at most ${max}`;
  const bad = (value as string[]).filter((item) => !PERMISSION_NAME_PATTERN.test(item));
  if (bad.length)
    return `has names outside the grammar (${PERMISSION_NAME_GRAMMAR}): ${bad
      .slice(0, 10)
      .map((name) => JSON.stringify(name.slice(0, NAME_MAX_LENGTH + 1)))
      .join(', ')}`;
  const twice = value.filter((item, i) => value.indexOf(item) !== i);
  if (twice.length) return `must not name one twice: ${[...new Set(twice)].slice(0, 10).join(' ')}`;
  return undefined;
}

/** A list of distinct permission or role names, at most `max`. */
export function IsPermissionNames(max: number) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isPermissionNames',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => namesProblem(value, max) === undefined,
        defaultMessage: (args) => `${propertyName} ${namesProblem(args?.value, max) ?? 'is invalid'}`,
      },
    });
}

const NAME_DOC = {
  pattern: PERMISSION_NAME_PATTERN.source,
  maxLength: NAME_MAX_LENGTH,
  description: `Case-sensitive: ${PERMISSION_NAME_GRAMMAR}`,
};

export class CreatePermissionDto {
  @ApiProperty({ example: 'orders:write', ...NAME_DOC })
  @IsPermissionName()
  name: string;

  @ApiPropertyOptional({ example: 'Create and change orders', maxLength: 500 })
  @IsOptional()
  @IsString()
  @Length(0, 500)
  description?: string;
}

export class UpdateRoleDto {
  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @Length(0, 500)
  description?: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['orders:read'],
    maxItems: LIMITS.permissionsPerRole,
    description: 'The role’s permissions (replaces the list); each must exist in the tenant',
  })
  @IsOptional()
  @IsPermissionNames(LIMITS.permissionsPerRole)
  permissions?: string[];
}

export class CreateRoleDto extends UpdateRoleDto {
  @ApiProperty({ example: 'support', ...NAME_DOC })
  @IsPermissionName()
  name: string;
}

export class DeleteGrantQuery {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description: 'Also when keys carry it: removes it from them (audited); without it such a delete answers 409',
  })
  @IsOptional()
  @IsIn(['true', 'false'])
  force?: 'true' | 'false';
}

export class PermissionResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'orders:write' })
  name: string;

  @ApiProperty()
  description: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;
}

export class RoleResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'support' })
  name: string;

  @ApiProperty()
  description: string;

  @ApiProperty({ type: [String], example: ['orders:read'] })
  permissions: string[];

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt: Date;
}
