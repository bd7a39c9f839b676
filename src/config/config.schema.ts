import { isIP } from 'node:net';
import { z } from 'zod';
import { secretFileVariables } from './secret-files';

/** Values shipped in .env.example; production refuses to start with any of them. */
export const PLACEHOLDER_SECRETS = {
  ADMIN_TOKEN: 'change-me-admin-token-at-least-32-characters',
  JWT_SECRET: 'change-me-jwt-secret-at-least-32-characters',
  KEY_PEPPER: 'change-me-key-pepper-at-least-32-characters',
  CONFIG_ENCRYPTION_KEY: 'change-me-placeholder-config-encryption-key',
} as const;

/** Secrets generated into DATA_DIR/secrets.json outside production when unset. */
export const GENERATED_SECRETS = ['JWT_SECRET', 'KEY_PEPPER', 'CONFIG_ENCRYPTION_KEY'] as const;

const booleanString = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

const secret = z.string().min(32, 'must be at least 32 characters');

const encryptionKey = z.string().refine((value) => decodeKey(value)?.length === 32, {
  message: 'must be 32 bytes, written as 64 hex characters or base64',
});

/** Decodes a 32-byte key written as hex or base64; undefined when it is neither. */
export function decodeKey(value: string): Buffer | undefined {
  if (/^[0-9a-f]{64}$/i.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) return Buffer.from(value, 'base64');
  return undefined;
}

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.join(' or ')}//` },
  );

/** `1.2.3.4` or `10.0.0.0/8` (IPv4 or IPv6). */
function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (!family || extra !== undefined) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/**
 * Which reverse proxies may tell us the client's address (X-Forwarded-For): a hop count, or
 * the proxies' addresses/CIDRs. Never plain `true`: that trusts whatever X-Forwarded-For a
 * client sends, so anyone could pick the address the throttles, allowlists and audit see.
 */
const trustProxy = z
  .string()
  .transform((value, context): number | string[] | undefined => {
    const text = value.trim();
    if (text === 'false' || text === '0') return undefined;
    if (/^\d+$/.test(text) && Number(text) <= 10) return Number(text);
    const entries = text.split(',').map((entry) => entry.trim());
    if (text !== 'true' && entries.every(isAddressOrCidr)) return entries;
    context.addIssue({
      code: 'custom',
      message:
        'must be a hop count (1-10) or a comma-separated list of proxy addresses/CIDRs; `true` is not accepted because it trusts any X-Forwarded-For a client sends',
    });
    return z.NEVER;
  })
  .optional();

/**
 * Every environment variable the service reads. `describe()` texts feed the README table
 * (test/config-docs.e2e-spec.ts keeps the two in step).
 */
export const configSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'])
    .default('development')
    .describe('Runtime mode; `production` requires every secret to be set.'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000).describe('TCP port to listen on.'),
  HOST: z
    .string()
    .min(1)
    .optional()
    .describe('Address to bind; defaults to 127.0.0.1 (0.0.0.0 in the container image).'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Minimum log level.'),
  TRUST_PROXY: trustProxy.describe(
    'Reverse proxies whose X-Forwarded-For is believed: a hop count (`1` = one proxy in front) or their addresses/CIDRs (`10.0.0.5,10.1.0.0/16`); unset trusts none and uses the connecting address. `true` is refused (any client could spoof).',
  ),
  PUBLIC_URL: url(['http:', 'https:'])
    .optional()
    .describe('External base URL, used in links sent by email; defaults to http://HOST:PORT.'),
  DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe('Directory for the embedded database, generated secrets and the mail outbox.'),
  DATABASE_URL: url(['postgres:', 'postgresql:'])
    .optional()
    .describe('PostgreSQL connection URL; unset means the embedded database in DATA_DIR/pglite.'),
  DATABASE_LISTEN_URL: url(['postgres:', 'postgresql:'])
    .optional()
    .describe(
      'Direct PostgreSQL connection (not through a transaction-pooling PgBouncer) used only for LISTEN; defaults to DATABASE_URL.',
    ),
  DATABASE_POOL_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(10)
    .describe('PostgreSQL connection pool size (the embedded database always uses 1).'),
  ADMIN_TOKEN: secret
    .optional()
    .describe('Operator token for the x-admin-token header (>= 32 characters); unset disables admin routes.'),
  ADMIN_TOKEN_RETIRED: booleanString
    .default(false)
    .describe(
      '`true` retires ADMIN_TOKEN once operators sign in to the console: the token then opens nothing (403 ADMIN_TOKEN_RETIRED), neither /admin routes nor the operator bootstrap.',
    ),
  METRICS_TOKEN: secret
    .optional()
    .describe('Bearer token for GET /metrics (>= 32 characters); unset disables metrics (403 METRICS_DISABLED).'),
  JWT_SECRET: secret
    .optional()
    .describe('HS256 signing secret for access tokens (>= 32 characters); generated outside production.'),
  KEY_PEPPER: secret
    .optional()
    .describe('HMAC pepper for API key hashes (>= 32 characters); generated outside production.'),
  KEY_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9]{1,11}$/, 'must be 2-12 lowercase letters or digits, starting with a letter')
    .default('kw')
    .describe('Prefix of issued API keys.'),
  CONFIG_ENCRYPTION_KEY: encryptionKey
    .optional()
    .describe(
      'AES-256-GCM key for secret configuration values (32 bytes, hex or base64); generated outside production.',
    ),
  REDIS_URL: url(['redis:', 'rediss:'])
    .optional()
    .describe('Redis URL for shared rate limits; unset means per-instance memory.'),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/, 'must be 1-64 letters, digits, colons, underscores or hyphens')
    .default('keyward')
    .describe('Prefix of the keys written to Redis, so several deployments can share one Redis.'),
  SMTP_URL: url(['smtp:', 'smtps:'])
    .optional()
    .describe('SMTP server for outgoing mail; unset writes .eml files to DATA_DIR/outbox.'),
  MAIL_FROM: z.string().min(3).default('Keyward <no-reply@keyward.local>').describe('Sender address of outgoing mail.'),
  DOCS_ENABLED: booleanString
    .optional()
    .describe('Serve OpenAPI at /docs; defaults to on outside production, off in production.'),
  BODY_LIMIT: z.coerce
    .number()
    .int()
    .min(1024)
    .max(10 * 1024 * 1024)
    .default(100 * 1024)
    .describe('Largest accepted request body in bytes.'),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(3600)
    .default(900)
    .describe('Lifetime of an access JWT.'),
  REFRESH_TOKEN_DAYS: z.coerce
    .number()
    .int()
    .min(1)
    .max(365)
    .default(30)
    .describe('Absolute lifetime of an API sign-in (its refresh tokens).'),
  SESSION_IDLE_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(1440)
    .default(30)
    .describe('Dashboard sessions end after this much inactivity.'),
  SESSION_ABSOLUTE_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(720)
    .default(12)
    .describe('Dashboard sessions end this long after sign-in, active or not.'),
  LOGIN_FAILURES_PER_ACCOUNT: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(10)
    .describe('Failed sign-ins allowed per account from one address per 15 minutes, then 429.'),
  LOGIN_FAILURES_PER_IP: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(100)
    .describe('Failed sign-ins allowed per address over all accounts per 15 minutes, then 429.'),
  KEY_CACHE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(60)
    .describe('How long a verified API key is cached in memory; 0 turns the cache off. Changes clear it at once.'),
  AUDIT_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(1)
    .max(36_500)
    .optional()
    .describe('Audit events older than this many days are pruned, whole days at a time; unset keeps them forever.'),
  SHUTDOWN_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(10_000)
    .describe('How long shutdown waits for in-flight requests before closing them.'),
  ...secretFileVariables,
});

export type RawConfig = z.infer<typeof configSchema>;
