import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { SCOPES } from '../../common/auth/scopes';
import { NamedRateLimitDto, RateLimitDto } from '../../rate-limit/dto/rate-limit.dto';
import { QuotaRefillDto } from './api-keys.dto';

const DENIAL_CODES = [
  'KEY_MISSING',
  'KEY_MALFORMED',
  'KEY_NOT_FOUND',
  'KEY_REVOKED',
  'KEY_EXPIRED',
  'KEY_DISABLED',
  'TENANT_SUSPENDED',
  'INSUFFICIENT_SCOPE',
  'INSUFFICIENT_PERMISSIONS',
  'KEY_IP_NOT_ALLOWED',
  'RATE_LIMITED',
  'QUOTA_EXCEEDED',
];

export class KeyQuotaResponse {
  @ApiProperty({ example: 1000 })
  remaining: number;

  @ApiProperty({ type: QuotaRefillDto, nullable: true })
  refill: QuotaRefillDto | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  refilledAt: Date | null;
}

/** A key as every endpoint shows it: never its secret. */
export class ApiKeyResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'deploy bot' })
  name: string;

  @ApiProperty({ example: 'kw_live_Ab12…xY9z', description: 'Prefix with the first and last 4 characters' })
  hint: string;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'null for a service key' })
  ownerId: string | null;

  @ApiProperty({ enum: SCOPES, isArray: true })
  scopes: string[];

  @ApiProperty({
    enum: ['active', 'rotating', 'disabled', 'revoked', 'expired'],
    description: '`rotating`: rotated, still working until `graceUntil`; its successor is `successorId`',
  })
  status: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt: Date | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revokedAt: Date | null;

  @ApiProperty()
  disabled: boolean;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'A rotated key works until then' })
  graceUntil: Date | null;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  rotatedFromId: string | null;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'The key this one was rotated to' })
  successorId: string | null;

  @ApiProperty({ type: RateLimitDto, nullable: true, description: 'The limit named `default`; null: the tenant’s' })
  rateLimit: RateLimitDto | null;

  @ApiProperty({
    type: [NamedRateLimitDto],
    description: 'Every named limit of the key (`default` when it has its own)',
  })
  ratelimits: NamedRateLimitDto[];

  @ApiProperty({ type: String, nullable: true, description: 'The identity the key belongs to' })
  externalId: string | null;

  @ApiProperty({ type: KeyQuotaResponse, nullable: true })
  quota: KeyQuotaResponse | null;

  @ApiProperty({ type: [String], nullable: true, example: ['10.0.0.0/8'] })
  ipAllowlist: string[] | null;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Free-form JSON object' })
  metadata: Record<string, unknown>;

  @ApiProperty({ type: [String], example: ['orders:read'], description: 'Tenant permissions the key carries itself' })
  permissions: string[];

  @ApiProperty({ type: [String], example: ['support'], description: 'Tenant roles the key carries' })
  roles: string[];

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastUsedAt: Date | null;

  @ApiProperty({ type: String, nullable: true, example: '203.0.113.7', description: 'Address of the last use' })
  lastUsedIp: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;
}

export class CreatedApiKeyResponse extends ApiKeyResponse {
  @ApiProperty({ description: 'The full key: shown only in this answer, store it now' })
  apiKey: string;
}

export class ApiKeyPageResponse {
  @ApiProperty({ type: [ApiKeyResponse] })
  items: ApiKeyResponse[];

  @ApiProperty({ example: 1 })
  page: number;

  @ApiProperty({ example: 20 })
  limit: number;

  @ApiProperty({ example: 1 })
  total: number;
}

export class RateLimitStateResponse {
  @ApiProperty({ example: 'default', description: 'Which limit: `default` is the key’s own (or its tenant’s) limit' })
  name: string;

  @ApiProperty({ example: 100 })
  limit: number;

  @ApiProperty({ example: 99 })
  remaining: number;

  @ApiProperty({ example: 1796236447407, description: 'When the window resets, Unix time in milliseconds' })
  reset: number;
}

export class VerifiedIdentityResponse {
  @ApiProperty({ example: 'org_4711' })
  externalId: string;

  @ApiProperty({ type: 'object', additionalProperties: true })
  meta: Record<string, unknown>;
}

export class KeyVerificationResponse {
  @ApiProperty()
  valid: boolean;

  @ApiProperty({ enum: ['VALID', ...DENIAL_CODES] })
  code: string;

  @ApiPropertyOptional({ format: 'uuid' })
  keyId?: string;

  @ApiPropertyOptional({ example: 'deploy bot' })
  name?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  tenantId?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'The owner user; null for a service key',
  })
  ownerId?: string | null;

  @ApiPropertyOptional({
    type: VerifiedIdentityResponse,
    nullable: true,
    description: 'The identity of the tenant’s own system the key belongs to; null when it belongs to none',
  })
  identity?: VerifiedIdentityResponse | null;

  @ApiPropertyOptional({
    type: [String],
    example: ['orders:read'],
    description: 'Effective tenant permissions: the key’s own and its roles’, sorted',
  })
  permissions?: string[];

  @ApiPropertyOptional({ type: [String], example: ['support'] })
  roles?: string[];

  @ApiPropertyOptional({ enum: SCOPES, isArray: true, description: 'Keyward’s own scopes, separate from permissions' })
  scopes?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The key’s metadata' })
  meta?: Record<string, unknown>;

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true })
  expiresAt?: string | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description: 'Quota uses left after this verification; null for a key without a quota (or when none was spent)',
  })
  remaining?: number | null;

  @ApiPropertyOptional({ type: [RateLimitStateResponse], description: 'The rate limits this verification spent' })
  ratelimits?: RateLimitStateResponse[];

  @ApiPropertyOptional({
    type: [String],
    example: ['orders:write'],
    description:
      'With INSUFFICIENT_PERMISSIONS: permissions whose presence would satisfy the query (each AND needs all its parts; each OR the alternative needing the fewest additions, the first of those)',
  })
  missingPermissions?: string[];
}

export class LeakReportResponse {
  @ApiProperty({ enum: ['received'] })
  status: 'received';
}
