import { KeywardClient } from './client';
import { ValidKey } from './contract';
import { KeywardError } from './errors';

/** What a route asks of the key it is called with. Open for more kinds of requirement later. */
export interface KeywardRequirement {
  scopes?: readonly string[];
  /** A permission query on the key's tenant permissions. */
  permissions?: string;
}

/** The JSON a guard answers a refused request with: the service's error shape. */
export interface RefusalBody {
  statusCode: number;
  error: string;
  message: string;
  code: string;
}

export interface Refusal {
  allowed: false;
  status: number;
  body: RefusalBody;
  retryAfterSeconds?: number;
}

export type Decision = { allowed: true; key: ValidKey } | Refusal;

/** The status the service itself answers each refusal with on its own API. */
const STATUS_OF: Record<string, number> = {
  KEY_MISSING: 401,
  KEY_MALFORMED: 401,
  KEY_NOT_FOUND: 401,
  KEY_REVOKED: 401,
  KEY_EXPIRED: 401,
  KEY_DISABLED: 403,
  TENANT_SUSPENDED: 403,
  INSUFFICIENT_SCOPE: 403,
  INSUFFICIENT_PERMISSIONS: 403,
  KEY_IP_NOT_ALLOWED: 403,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 429,
};

const MESSAGE_OF: Record<string, string> = {
  KEY_MISSING: 'An x-api-key header is required',
  KEY_MALFORMED: 'This is not a valid API key',
  KEY_NOT_FOUND: 'Unknown API key',
  KEY_REVOKED: 'This API key has been revoked',
  KEY_EXPIRED: 'This API key has expired',
  KEY_DISABLED: 'This API key is disabled',
  TENANT_SUSPENDED: 'The tenant of this API key is suspended',
  INSUFFICIENT_SCOPE: 'This API key lacks a required scope',
  INSUFFICIENT_PERMISSIONS: 'This API key lacks the permissions the request needs',
  KEY_IP_NOT_ALLOWED: 'This API key may not be used from this address',
  RATE_LIMITED: 'Too many requests with this API key; retry later',
  QUOTA_EXCEEDED: 'This API key has used up its quota',
};

const REASON: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

export const API_KEY_HEADER = 'x-api-key';

/**
 * Decides one request from its `x-api-key` header, for every framework adapter. Closed by
 * default: a refusal answers 401/403/429 with the service's code, and a verification that
 * could not be made answers 503, never lets the request through.
 */
export async function decide(
  client: KeywardClient,
  header: string | string[] | undefined,
  requirement: KeywardRequirement = {},
): Promise<Decision> {
  if (Array.isArray(header) && header.length > 1) return refusal(401, 'KEY_MALFORMED', MESSAGE_OF.KEY_MALFORMED);
  const key = (Array.isArray(header) ? header[0] : header) ?? '';
  try {
    const answer = await client.verifyKey(key, {
      requiredScopes: requirement.scopes,
      ...(requirement.permissions !== undefined ? { permissions: requirement.permissions } : {}),
    });
    if (answer.valid) return { allowed: true, key: answer };
    // An unknown code from a newer service is still a refusal.
    return refusal(STATUS_OF[answer.code] ?? 403, answer.code, MESSAGE_OF[answer.code] ?? 'This API key is refused');
  } catch (error) {
    if (!(error instanceof KeywardError)) throw error;
    return {
      ...refusal(503, 'KEYWARD_UNAVAILABLE', 'The API key could not be verified; retry later'),
      retryAfterSeconds: error.retryAfterSeconds,
    };
  }
}

function refusal(status: number, code: string, message: string): Refusal {
  return { allowed: false, status, body: { statusCode: status, error: REASON[status] ?? 'Forbidden', message, code } };
}
