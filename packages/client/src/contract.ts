/**
 * What this client relies on in the service's API, written once as JSON Schema (OpenAPI 3
 * dialect) next to the TypeScript types. The package's tests compare these schemas with the
 * live service's OpenAPI document and with its live answers, and the `SameKeys` checks below
 * stop the types and the schemas from drifting apart at compile time.
 */

export const VERIFY_KEY_OPERATION = { method: 'post', path: '/v1/keys/verify', apiKeyHeader: 'x-api-key' } as const;

/** The codes a key can be refused with (the service may add more: treat unknown ones as refusals). */
export type DenialCode =
  | 'KEY_MISSING'
  | 'KEY_MALFORMED'
  | 'KEY_NOT_FOUND'
  | 'KEY_REVOKED'
  | 'KEY_EXPIRED'
  | 'KEY_DISABLED'
  | 'TENANT_SUSPENDED'
  | 'INSUFFICIENT_SCOPE'
  | 'INSUFFICIENT_PERMISSIONS'
  | 'KEY_IP_NOT_ALLOWED'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED';

/** Body of `POST /v1/keys/verify` (the service's VerifyKeyDto). */
export interface VerifyKeyRequest {
  key: string;
  requiredScopes?: string[];
  /** A permission query: `orders:write AND (orders:read OR admin)`. */
  permissions?: string;
  /** The named limits to spend, each by `cost` (default 1); omitted: `default` by 1. */
  ratelimits?: { name: string; cost?: number }[];
  /** Quota uses to spend (default 1; 0 checks without spending). */
  cost?: number;
}

export const verifyKeyRequestSchema = {
  type: 'object',
  required: ['key'],
  properties: {
    key: { type: 'string' },
    requiredScopes: { type: 'array', items: { type: 'string' } },
    permissions: { type: 'string' },
    ratelimits: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string' }, cost: { type: 'number' } },
      },
    },
    cost: { type: 'number' },
  },
} as const;

/** The state of one rate limit a verification spent. */
export interface RateLimitState {
  name: string;
  limit: number;
  remaining: number;
  /** When the window resets, Unix time in milliseconds. */
  reset: number;
}

/** Who a key belongs to and what it may do. */
export interface KeyIdentity {
  keyId: string;
  tenantId: string;
  /** The user the key belongs to; null for a service key. */
  ownerId: string | null;
  scopes: string[];
  /** ISO 8601, or null when the key never expires. */
  expiresAt: string | null;
  // Optional below: services older than tenant permissions do not send them.
  name?: string;
  /** The identity of your own system the key belongs to; null when none. */
  identity?: { externalId: string; meta: Record<string, unknown> } | null;
  /** Effective tenant permissions: the key's own and its roles', sorted. */
  permissions?: string[];
  roles?: string[];
  /** The key's metadata. */
  meta?: Record<string, unknown>;
  /** Quota uses left after this verification; null for a key without a quota. */
  remaining?: number | null;
  /** The rate limits this verification spent. */
  ratelimits?: RateLimitState[];
  /** With INSUFFICIENT_PERMISSIONS: the permissions whose presence would have satisfied the query. */
  missingPermissions?: string[];
}

export interface ValidKey extends KeyIdentity {
  valid: true;
  code: 'VALID';
}

/** A refusal; the identity is present when the key exists in the caller's tenant. */
export interface RefusedKey extends Partial<KeyIdentity> {
  valid: false;
  code: DenialCode | (string & {});
}

/** Answer of `POST /v1/keys/verify` (200). */
export type VerifyKeyResult = ValidKey | RefusedKey;

export const verifyKeyResponseSchema = {
  type: 'object',
  required: ['valid', 'code'],
  properties: {
    valid: { type: 'boolean' },
    code: { type: 'string' },
    keyId: { type: 'string' },
    tenantId: { type: 'string' },
    ownerId: { type: 'string', nullable: true },
    scopes: { type: 'array', items: { type: 'string' } },
    expiresAt: { type: 'string', nullable: true },
    name: { type: 'string' },
    // Free-form objects: any JSON object (or null) is fine.
    identity: {},
    permissions: { type: 'array', items: { type: 'string' } },
    roles: { type: 'array', items: { type: 'string' } },
    meta: {},
    remaining: { type: 'number', nullable: true },
    ratelimits: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'limit', 'remaining', 'reset'],
        properties: {
          name: { type: 'string' },
          limit: { type: 'number' },
          remaining: { type: 'number' },
          reset: { type: 'number' },
        },
      },
    },
    missingPermissions: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** The service's one error shape, for every 4xx and 5xx. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code?: string;
  /** Every answer of the service carries one (also in the x-request-id header). */
  requestId: string;
  details?: unknown;
}

export const errorBodySchema = {
  type: 'object',
  required: ['statusCode', 'error', 'message', 'requestId'],
  properties: {
    statusCode: { type: 'number' },
    error: { type: 'string' },
    message: { type: 'string' },
    code: { type: 'string' },
    requestId: { type: 'string' },
    details: {},
  },
} as const;

type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const sameKeys = <T extends true>(_check: T) => undefined;
sameKeys<SameKeys<VerifyKeyRequest, (typeof verifyKeyRequestSchema)['properties']>>(true);
sameKeys<SameKeys<ValidKey, (typeof verifyKeyResponseSchema)['properties']>>(true);
sameKeys<SameKeys<ErrorBody, (typeof errorBodySchema)['properties']>>(true);
