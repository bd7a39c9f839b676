import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { Role } from '../../common/auth/principal';
import { ROLES } from '../../common/auth/scopes';
import { Membership, UserStatus } from '../user.entity';

export const normalizeEmail = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim().toLowerCase() : value;

export class InviteUserDto {
  @ApiProperty({ example: 'ada@example.com' })
  @Transform(normalizeEmail)
  @IsEmail()
  @MaxLength(254)
  email: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role: Role;
}

export class CreateUserDto extends InviteUserDto {
  @ApiPropertyOptional({
    description: 'Without a password the user is invited and must set one through the invite link',
  })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  password?: string;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ enum: ROLES })
  @IsOptional()
  @IsIn(ROLES)
  role?: Role;

  @ApiPropertyOptional({ enum: ['active', 'disabled'] })
  @IsOptional()
  @IsIn(['active', 'disabled'])
  status?: 'active' | 'disabled';
}

export interface UserDto {
  id: string;
  tenantId: string;
  email: string;
  role: Role;
  status: UserStatus;
  createdAt: Date;
  lastLoginAt: Date | null;
}

export function toUserDto(user: Membership): UserDto {
  const { id, tenantId, role, status, createdAt, lastLoginAt } = user;
  return { id, tenantId, email: user.person.email, role, status, createdAt, lastLoginAt };
}
