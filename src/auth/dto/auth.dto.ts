import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsOptional, IsString, IsUUID, Length, MaxLength, ValidateIf } from 'class-validator';
import { normalizeEmail } from '../../users/dto/users.dto';

@ApiSchema({ description: 'Give `email` (or its alias `username`) and `password`' })
export class LoginDto {
  @ApiPropertyOptional({ example: 'ada@example.com', description: 'Required unless username is given' })
  @ValidateIf((dto: LoginDto) => dto.username === undefined || dto.email !== undefined)
  @Transform(normalizeEmail)
  @IsEmail()
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({ description: 'Alias of email' })
  @ValidateIf((dto: LoginDto) => dto.email === undefined)
  @Transform(normalizeEmail)
  @IsEmail()
  @MaxLength(254)
  username?: string;

  @ApiProperty()
  @IsString()
  @Length(1, 1024)
  password: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description:
      'The tenant to sign in to. Needed only by a person who belongs to several: without it they are answered 409 TENANT_REQUIRED with the list of their tenants',
  })
  @IsOptional()
  @IsUUID()
  tenantId?: string;
}

export class RefreshDto {
  @ApiProperty()
  @IsString()
  @Length(1, 512)
  refreshToken: string;
}

export class ChangePasswordDto {
  @ApiProperty()
  @IsString()
  @Length(1, 1024)
  currentPassword: string;

  @ApiProperty()
  @IsString()
  @Length(1, 1024)
  newPassword: string;
}

export class ForgotPasswordDto {
  @ApiProperty()
  @Transform(normalizeEmail)
  @IsEmail()
  @MaxLength(254)
  email: string;
}

export class ResetPasswordDto {
  @ApiProperty()
  @IsString()
  @Length(1, 512)
  token: string;

  @ApiProperty()
  @IsString()
  @Length(1, 1024)
  newPassword: string;
}

export class AcceptInvitationDto {
  @ApiProperty()
  @IsString()
  @Length(1, 512)
  token: string;

  @ApiProperty()
  @IsString()
  @Length(1, 1024)
  password: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export class SwitchTenantDto {
  @ApiProperty({ format: 'uuid', description: 'One of the caller’s tenants (GET /auth/tenants)' })
  @IsUUID()
  tenantId: string;
}

export class ChangeEmailDto {
  @ApiProperty({ example: 'ada@example.org' })
  @Transform(normalizeEmail)
  @IsEmail()
  @MaxLength(254)
  newEmail: string;

  @ApiProperty()
  @IsString()
  @Length(1, 1024)
  currentPassword: string;
}

export class ConfirmEmailDto {
  @ApiProperty()
  @IsString()
  @Length(1, 512)
  token: string;
}
