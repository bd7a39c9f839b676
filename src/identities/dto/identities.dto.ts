import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, ValidateNested } from 'class-validator';
import { PageQuery } from '../../common/http/pagination';
import { IsSmallJsonObject, QuotaDto, QuotaRefillDto } from '../../api-keys/dto/api-keys.dto';
import { IsRateLimitList, NamedRateLimitDto } from '../../rate-limit/dto/rate-limit.dto';
import type { NamedRateLimit } from '../../rate-limit/rate-limit.types';
import { Identity, IdentityQuotaRefill } from '../identity.entity';
import { EXTERNAL_ID_PATTERN, IsExternalId } from './external-id';

/** Meta of an identity: any JSON object, at most 4 kB (it comes back in every verify answer). */
export const MAX_META_BYTES = 4096;

export class UpdateIdentityDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Any JSON object, at most 4 kB' })
  @IsOptional()
  @IsObject()
  @IsSmallJsonObject(MAX_META_BYTES)
  meta?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: [NamedRateLimitDto],
    nullable: true,
    description: 'Limits shared by all keys of the identity (at most 10); null or [] removes them',
  })
  @IsOptional()
  @IsRateLimitList()
  ratelimits?: NamedRateLimit[] | null;

  @ApiPropertyOptional({
    type: QuotaDto,
    nullable: true,
    description: 'A quota shared by all its keys; null removes it',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => QuotaDto)
  quota?: QuotaDto | null;
}

export class CreateIdentityDto extends UpdateIdentityDto {
  @ApiProperty({
    example: 'org_4711',
    pattern: EXTERNAL_ID_PATTERN.source,
    description: 'Your id for it; unique in the tenant',
  })
  @IsExternalId()
  externalId: string;
}

export class ListIdentitiesQuery extends PageQuery {}

export class DeleteIdentityQuery {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description: 'Delete even while keys use it: they leave the identity',
  })
  @IsOptional()
  @IsIn(['true', 'false'])
  force?: 'true' | 'false';
}

export class IdentityQuotaResponse {
  @ApiProperty({ example: 1000 })
  remaining: number;

  @ApiProperty({ type: QuotaRefillDto, nullable: true })
  refill: QuotaRefillDto | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  refilledAt: Date | null;
}

export class IdentityResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'org_4711' })
  externalId: string;

  @ApiProperty({ type: 'object', additionalProperties: true })
  meta: Record<string, unknown>;

  @ApiProperty({ type: [NamedRateLimitDto] })
  ratelimits: NamedRateLimitDto[];

  @ApiProperty({ type: IdentityQuotaResponse, nullable: true })
  quota: IdentityQuotaResponse | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt: Date;
}

export class IdentityPageResponse {
  @ApiProperty({ type: [IdentityResponse] })
  items: IdentityResponse[];

  @ApiProperty({ example: 1 })
  page: number;

  @ApiProperty({ example: 20 })
  limit: number;

  @ApiProperty({ example: 1 })
  total: number;
}

export class RevokedIdentityKeysResponse {
  @ApiProperty({ example: 2, description: 'How many keys this call revoked' })
  revoked: number;

  @ApiProperty({ type: [String], description: 'Their ids' })
  keyIds: string[];
}

export interface IdentityDto {
  id: string;
  externalId: string;
  meta: Record<string, unknown>;
  ratelimits: NamedRateLimit[];
  quota: { remaining: number; refill: IdentityQuotaRefill | null; refilledAt: Date | null } | null;
  createdAt: Date;
  updatedAt: Date;
}

export function toIdentityDto(identity: Identity): IdentityDto {
  return {
    id: identity.id,
    externalId: identity.externalId,
    meta: identity.meta,
    ratelimits: identity.ratelimits,
    quota:
      identity.quotaRemaining === null
        ? null
        : { remaining: identity.quotaRemaining, refill: identity.quotaRefill, refilledAt: identity.quotaRefilledAt },
    createdAt: identity.createdAt,
    updatedAt: identity.updatedAt,
  };
}
