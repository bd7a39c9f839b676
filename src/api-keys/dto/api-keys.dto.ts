import { ApiProperty, ApiPropertyOptional, PickType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsBoolean,
  IsDateString,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  registerDecorator,
  ValidateNested,
} from 'class-validator';
import { SCOPES } from '../../common/auth/scopes';
import { PageQuery } from '../../common/http/pagination';
import {
  IsRateLimitList,
  IsRateLimitSpendList,
  NamedRateLimitDto,
  RateLimitDto,
  RateLimitSpendDto,
} from '../../rate-limit/dto/rate-limit.dto';
import { EXTERNAL_ID_PATTERN, IsExternalId } from '../../identities/dto/external-id';
import type { NamedRateLimit } from '../../rate-limit/rate-limit.types';
import { ApiKey, QuotaRefill, RateLimitSetting } from '../api-key.entity';
import { isCidr } from '../ip-allowlist';
import { KeyStatus, keyStatus } from '../key-policy';
import { IsIntBetween, IsNameList, nameListProblem } from '../../common/validation/validators';
import { acceptQuickly } from '../../common/http/validation';
import { IsPermissionNames } from '../../permissions/dto/permissions.dto';
import { KeyGrants, NO_GRANTS } from '../../permissions/key-grants.repository';
import { LIMITS, PERMISSION_NAME_GRAMMAR } from '../../permissions/permission-name';

export type { KeyStatus };

function IsCidrList() {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isCidrList',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => Array.isArray(value) && value.every(isCidr),
        defaultMessage: () => `${propertyName} must be a list of IP addresses or CIDR ranges`,
      },
    });
}

/** JSON object of at most 4 kB. */
export function IsSmallJsonObject(maxBytes: number) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isSmallJsonObject',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) =>
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          Buffer.byteLength(JSON.stringify(value)) <= maxBytes,
        defaultMessage: () => `${propertyName} must be a JSON object of at most ${maxBytes} bytes`,
      },
    });
}

export class QuotaRefillDto implements QuotaRefill {
  @ApiProperty({ example: 1000 })
  @IsIntBetween(1, 1_000_000_000)
  amount: number;

  @ApiProperty({ enum: ['day', 'month'] })
  @IsIn(['day', 'month'])
  interval: 'day' | 'month';
}

export class QuotaDto {
  @ApiProperty({ example: 1000, description: 'Uses left; each successful verification spends one' })
  @IsIntBetween(0, 1_000_000_000)
  remaining: number;

  @ApiPropertyOptional({ type: QuotaRefillDto, description: 'Reset `remaining` to `amount` once per interval' })
  @IsOptional()
  @ValidateNested()
  @Type(() => QuotaRefillDto)
  refill?: QuotaRefillDto;
}

export class CreateApiKeyDto {
  @ApiPropertyOptional({ example: 'deploy bot' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  name?: string;

  @ApiPropertyOptional({ enum: SCOPES, isArray: true, description: "Omitted: the tenant's default scopes" })
  @IsOptional()
  @IsNameList(SCOPES, 'scope', { nonEmpty: true })
  scopes?: string[];

  @ApiPropertyOptional({
    type: [String],
    example: ['orders:read'],
    maxItems: LIMITS.permissionsPerKey,
    description: `The tenant’s own permissions the key carries itself (defined at /v1/permissions; a name is ${PERMISSION_NAME_GRAMMAR}). Separate from Keyward’s own scopes. A key can give only permissions it holds; owners and admins any`,
  })
  @IsOptional()
  @IsPermissionNames(LIMITS.permissionsPerKey)
  permissions?: string[];

  @ApiPropertyOptional({
    type: [String],
    example: ['support'],
    maxItems: LIMITS.rolesPerKey,
    description:
      'The tenant’s roles the key carries (defined at /v1/roles). A key can give only roles it carries itself; owners and admins any',
  })
  @IsOptional()
  @IsPermissionNames(LIMITS.rolesPerKey)
  roles?: string[];

  @ApiPropertyOptional({ description: 'ISO 8601 time in the future' })
  @IsOptional()
  @IsDateString({ strict: true })
  expiresAt?: string;

  @ApiPropertyOptional({ description: 'Alternative to expiresAt' })
  @IsOptional()
  @IsIntBetween(1, 3650)
  expiresInDays?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @ValidateNested()
  @Type(() => RateLimitDto)
  rateLimit?: RateLimitDto;

  @ApiPropertyOptional({
    type: [NamedRateLimitDto],
    description:
      'Named limits a verify call can spend (at most 10). One named `default` is the same as `rateLimit` (give one or the other).',
  })
  @IsOptional()
  @IsRateLimitList()
  ratelimits?: NamedRateLimit[];

  @ApiPropertyOptional({ type: QuotaDto, description: 'Omitted: unlimited uses' })
  @IsOptional()
  @ValidateNested()
  @Type(() => QuotaDto)
  quota?: QuotaDto;

  @ApiPropertyOptional({
    pattern: EXTERNAL_ID_PATTERN.source,
    description: 'The identity (of your own system) the key belongs to; created if the tenant has none of that id',
  })
  @IsOptional()
  @IsExternalId()
  externalId?: string;

  @ApiPropertyOptional({ type: [String], example: ['10.0.0.0/8'] })
  @IsOptional()
  @ArrayMaxSize(50)
  @IsCidrList()
  ipAllowlist?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Any JSON object, at most 4 kB' })
  @IsOptional()
  @IsObject()
  @IsSmallJsonObject(4096)
  metadata?: Record<string, unknown>;
}

/** For admins and owners: whose key it is (omit for the caller; null for a service key). */
export class CreateTenantApiKeyDto extends CreateApiKeyDto {
  @ApiPropertyOptional({ nullable: true, description: 'Owner user id; null makes a service key' })
  @IsOptional()
  @IsUUID()
  userId?: string | null;

  @ApiPropertyOptional({ description: 'Make a service key of the tenant (no owner)' })
  @IsOptional()
  @IsBoolean()
  service?: boolean;
}

export class AdminCreateApiKeyDto extends CreateApiKeyDto {
  @ApiProperty()
  @IsUUID()
  tenantId: string;

  @ApiPropertyOptional({ description: 'Owner user id; omitted makes a service key' })
  @IsOptional()
  @IsUUID()
  userId?: string;
}

/** Name, scopes (narrowing only), expiry (earlier only), allowlist, metadata, rate limit, quota; plus disabled. */
export class UpdateApiKeyDto extends PickType(CreateApiKeyDto, [
  'name',
  'scopes',
  'expiresAt',
  'ipAllowlist',
  'metadata',
  'rateLimit',
  'permissions',
  'roles',
  'ratelimits',
] as const) {
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    pattern: EXTERNAL_ID_PATTERN.source,
    description: 'Move the key to this identity (created if needed); null takes it out of its identity',
  })
  @IsOptional()
  @IsExternalId({ nullable: true })
  externalId?: string | null;

  @ApiPropertyOptional({ type: QuotaDto, nullable: true, description: 'null removes the quota' })
  @IsOptional()
  @ValidateNested()
  @Type(() => QuotaDto)
  quota?: QuotaDto | null;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

export class RotateApiKeyDto {
  @ApiPropertyOptional({ description: 'How long the old key keeps working (0..7 days); default 24 h' })
  @IsOptional()
  @IsIntBetween(0, 7 * 86_400)
  gracePeriodSeconds?: number;
}

export class ListApiKeysQuery extends PageQuery {
  @ApiPropertyOptional({ description: "A user id, or 'service'" })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  owner?: string;

  @ApiPropertyOptional({ enum: ['active', 'disabled', 'revoked', 'expired'] })
  @IsOptional()
  @IsIn(['active', 'disabled', 'revoked', 'expired'])
  status?: 'active' | 'disabled' | 'revoked' | 'expired';

  @ApiPropertyOptional({ description: 'Part of the name, or the start of the key (its prefix and first characters)' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  q?: string;

  @ApiPropertyOptional({ pattern: EXTERNAL_ID_PATTERN.source, description: 'Only the keys of this identity' })
  @IsOptional()
  @IsExternalId()
  externalId?: string;
}

export class VerifyKeyDto {
  @ApiProperty()
  @IsString()
  @Length(1, 256)
  key: string;

  @ApiPropertyOptional({ enum: SCOPES, isArray: true })
  @IsOptional()
  @IsNameList(SCOPES, 'scope')
  requiredScopes?: string[];

  @ApiPropertyOptional({
    example: 'orders:write AND (orders:read OR admin)',
    maxLength: 1000,
    description:
      'A query on the key’s effective permissions (its own and its roles’): permission names with AND, OR and parentheses; AND binds tighter than OR; at most 1000 characters, 50 names and 8 nested parentheses. When it fails the answer is valid:false, INSUFFICIENT_PERMISSIONS, with missingPermissions',
  })
  @IsOptional()
  @IsString()
  permissions?: string;

  @ApiPropertyOptional({
    type: [RateLimitSpendDto],
    description:
      'The limits to spend, each by its cost (default: `default` by 1). A name the key has no limit of is skipped.',
  })
  @IsOptional()
  @IsRateLimitSpendList()
  ratelimits?: { name: string; cost?: number }[];

  @ApiPropertyOptional({ example: 1, description: 'Uses of the quota to spend (default 1; 0 checks without spending)' })
  @IsOptional()
  @IsIntBetween(0, 1_000_000)
  cost?: number;
}

/** A key of printable ASCII (every key Keyward makes is): its length is its character count. */
const PRINTABLE_KEY = /^[\x20-\x7e]{1,256}$/;

// Verify is called on every request of the services that use Keyward: the bodies that the
// decorators above accept are recognised by hand, without class-validator's metadata walk.
// Any other body (a refusal among them) goes through the decorators, with their messages.
acceptQuickly(VerifyKeyDto, (body) => {
  for (const name in body) if (name !== 'key' && name !== 'requiredScopes' && name !== 'permissions') return false;
  return (
    typeof body.key === 'string' &&
    PRINTABLE_KEY.test(body.key) &&
    (body.requiredScopes === undefined || nameListProblem(body.requiredScopes, SCOPES) === undefined) &&
    (body.permissions === undefined || typeof body.permissions === 'string')
  );
});

export class RevokeOwnApiKeyDto {
  @ApiProperty({ description: 'The full key, or its id' })
  @IsString()
  @Length(1, 256)
  key: string;
}

export class ReportLeakDto {
  @ApiProperty({ description: 'The full key as found' })
  @IsString()
  @Length(1, 256)
  key: string;

  @ApiPropertyOptional({ description: 'Where it was found (a URL, say)' })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  source?: string;
}

/** `rotating`: replaced by rotation and still working until `graceUntil` (see `successorId`). */
export type KeyDtoStatus = KeyStatus | 'rotating';

export interface ApiKeyDto {
  id: string;
  name: string;
  hint: string;
  ownerId: string | null;
  scopes: string[];
  status: KeyDtoStatus;
  expiresAt: Date | null;
  revokedAt: Date | null;
  disabled: boolean;
  graceUntil: Date | null;
  rotatedFromId: string | null;
  /** The key that replaced this one by rotation, if any. */
  successorId: string | null;
  rateLimit: RateLimitSetting | null;
  /** Every named limit of the key, `default` first when the key has its own. */
  ratelimits: NamedRateLimit[];
  /** The identity the key belongs to, if any. */
  externalId: string | null;
  quota: { remaining: number; refill: QuotaRefill | null; refilledAt: Date | null } | null;
  ipAllowlist: string[] | null;
  metadata: Record<string, unknown>;
  /** The tenant's own permissions and roles the key carries itself (its effective ones add the roles'). */
  permissions: string[];
  roles: string[];
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  createdAt: Date;
}

/** `externalId`: of the key's identity, which the caller looked up (the entity holds only its id). */
export function toApiKeyDto(
  key: ApiKey,
  now: Date,
  successorId: string | null = null,
  grants: KeyGrants = NO_GRANTS,
  externalId: string | null = key.identity?.externalId ?? null,
): ApiKeyDto {
  const status = keyStatus(key, now);
  return {
    id: key.id,
    name: key.name,
    hint: key.hint,
    ownerId: key.userId,
    scopes: key.scopes,
    status: status === 'active' && key.graceUntil ? 'rotating' : status,
    expiresAt: key.expiresAt,
    revokedAt: key.revokedAt,
    disabled: Boolean(key.disabledAt),
    graceUntil: key.graceUntil,
    rotatedFromId: key.rotatedFromId,
    successorId,
    rateLimit: key.rateLimit,
    ratelimits: [
      ...(key.rateLimit ? [{ name: 'default', ...key.rateLimit }] : []),
      ...(key.ratelimits ?? []).map(({ name, limit, windowSeconds }) => ({ name, limit, windowSeconds })),
    ],
    externalId,
    quota:
      key.quotaRemaining === null
        ? null
        : { remaining: key.quotaRemaining, refill: key.quotaRefill, refilledAt: key.quotaRefilledAt },
    ipAllowlist: key.ipAllowlist,
    metadata: key.metadata,
    permissions: [...grants.permissions],
    roles: [...grants.roles],
    lastUsedAt: key.lastUsedAt,
    lastUsedIp: key.lastUsedIp ?? null,
    createdAt: key.createdAt,
  };
}
