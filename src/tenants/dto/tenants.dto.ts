import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString, Length, Matches, ValidateNested } from 'class-validator';
import { RateLimitDto, RateLimitSetting } from '../../rate-limit/dto/rate-limit.dto';
import { SCOPES } from '../../common/auth/scopes';
import { Tenant, TenantStatus } from '../tenant.entity';
import { IsIntBetween, IsNameList } from '../../common/validation/validators';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export class CreateTenantDto {
  @ApiProperty({ example: 'Acme Inc.' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiPropertyOptional({ example: 'acme', description: 'Derived from the name when omitted' })
  @IsOptional()
  @Matches(SLUG, {
    message: 'slug must be 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen',
  })
  slug?: string;
}

export class UpdateTenantDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({ enum: ['active', 'suspended'] })
  @IsOptional()
  @IsIn(['active', 'suspended'])
  status?: TenantStatus;

  @ApiPropertyOptional()
  @IsOptional()
  @IsIntBetween(0, 100_000)
  maxKeysPerUser?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsIntBetween(0, 1_000_000)
  maxKeysPerTenant?: number;

  @ApiPropertyOptional({ nullable: true, description: 'Longest lifetime of a new API key, in days; null = no limit' })
  @IsOptional()
  @IsIntBetween(1, 3650)
  maxKeyLifetimeDays?: number | null;

  @ApiPropertyOptional({ enum: SCOPES, isArray: true })
  @IsOptional()
  @IsNameList(SCOPES, 'scope')
  defaultKeyScopes?: string[];

  @ApiPropertyOptional({ type: RateLimitDto, description: 'Rate limit of keys that have none of their own' })
  @IsOptional()
  @ValidateNested()
  @Type(() => RateLimitDto)
  defaultKeyRateLimit?: RateLimitDto;
}

export interface TenantDto {
  id: string;
  name: string;
  slug: string;
  status: TenantStatus;
  maxKeysPerUser: number;
  maxKeysPerTenant: number;
  maxKeyLifetimeDays: number | null;
  defaultKeyScopes: string[];
  defaultKeyRateLimit: RateLimitSetting;
  createdAt: Date;
  updatedAt: Date;
}

export function toTenantDto(tenant: Tenant): TenantDto {
  const {
    id,
    name,
    slug,
    status,
    maxKeysPerUser,
    maxKeysPerTenant,
    maxKeyLifetimeDays,
    defaultKeyScopes,
    defaultKeyRateLimit,
    createdAt,
    updatedAt,
  } = tenant;
  return {
    id,
    name,
    slug,
    status,
    maxKeysPerUser,
    maxKeysPerTenant,
    maxKeyLifetimeDays,
    defaultKeyScopes,
    defaultKeyRateLimit,
    createdAt,
    updatedAt,
  };
}

/** "Acme Inc." → "acme-inc" */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return slug || 'tenant';
}
