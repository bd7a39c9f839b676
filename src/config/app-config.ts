import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { configSchema, decodeKey, GENERATED_SECRETS, PLACEHOLDER_SECRETS } from './config.schema';
import { readSecretFiles } from './secret-files';

/** Validated, typed settings read once at boot. Inject with `AppConfig`. */
export class AppConfig {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly isProduction: boolean;
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  readonly publicUrl: string;
  /** Fastify's trustProxy: hops or proxy addresses; undefined trusts no proxy. */
  readonly trustProxy?: number | string[];
  readonly dataDir: string;
  readonly databaseUrl?: string;
  /** Where LISTEN connects: DATABASE_LISTEN_URL, else DATABASE_URL. */
  readonly databaseListenUrl?: string;
  readonly databasePoolSize: number;
  readonly adminToken?: string;
  /** ADMIN_TOKEN_RETIRED: operators exist and the token no longer opens anything. */
  readonly adminTokenRetired: boolean;
  readonly metricsToken?: string;
  readonly jwtSecret: string;
  readonly keyPepper: string;
  readonly keyPrefix: string;
  readonly configEncryptionKey: Buffer;
  readonly redisUrl?: string;
  readonly redisKeyPrefix: string;
  readonly smtpUrl?: string;
  readonly mailFrom: string;
  readonly docsEnabled: boolean;
  readonly bodyLimit: number;
  readonly shutdownTimeoutMs: number;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenDays: number;
  readonly sessionIdleMinutes: number;
  readonly sessionAbsoluteHours: number;
  readonly loginFailuresPerAccount: number;
  readonly loginFailuresPerIp: number;
  readonly keyCacheTtlSeconds: number;
  /** Undefined: audit events are kept forever. */
  readonly auditRetentionDays?: number;

  constructor(values: Omit<AppConfig, never>) {
    Object.assign(this, values);
  }
}

/** A configuration problem: the process prints `message` on one line and exits with 1. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/**
 * Validates the environment once. Empty strings count as unset, so `FOO=` in a shell or
 * compose file does not turn into an invalid value.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const given = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  ) as Record<string, string>;
  const input = readSecretFiles(given, (message) => new ConfigError(`Invalid configuration: ${message}`));
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`Invalid configuration: ${describeIssues(parsed.error)}`);
  const raw = parsed.data;
  if (raw.DATABASE_LISTEN_URL && !raw.DATABASE_URL)
    throw new ConfigError('Invalid configuration: DATABASE_LISTEN_URL is set but DATABASE_URL is not');
  const isProduction = raw.NODE_ENV === 'production';
  const dataDir = resolve(raw.DATA_DIR);

  const secrets = {
    JWT_SECRET: raw.JWT_SECRET,
    KEY_PEPPER: raw.KEY_PEPPER,
    CONFIG_ENCRYPTION_KEY: raw.CONFIG_ENCRYPTION_KEY,
    ADMIN_TOKEN: raw.ADMIN_TOKEN,
  };
  if (isProduction) {
    const missing = GENERATED_SECRETS.filter((name) => !secrets[name]);
    if (missing.length)
      throw new ConfigError(`Invalid configuration: ${missing.join(', ')} must be set when NODE_ENV=production`);
    const placeholders = (Object.keys(PLACEHOLDER_SECRETS) as (keyof typeof PLACEHOLDER_SECRETS)[]).filter(
      (name) =>
        secrets[name] !== undefined &&
        (secrets[name] === PLACEHOLDER_SECRETS[name] || secrets[name]!.startsWith('change-me')),
    );
    if (placeholders.length)
      throw new ConfigError(
        `Invalid configuration: ${placeholders.join(', ')} still has the placeholder value from .env.example`,
      );
  } else {
    Object.assign(secrets, fillGeneratedSecrets(dataDir, secrets));
  }

  const host = raw.HOST ?? '127.0.0.1';
  return new AppConfig({
    nodeEnv: raw.NODE_ENV,
    isProduction,
    port: raw.PORT,
    host,
    logLevel: raw.LOG_LEVEL,
    trustProxy: raw.TRUST_PROXY,
    publicUrl: (raw.PUBLIC_URL ?? `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${raw.PORT}`).replace(/\/+$/, ''),
    dataDir,
    databaseUrl: raw.DATABASE_URL,
    databaseListenUrl: raw.DATABASE_LISTEN_URL ?? raw.DATABASE_URL,
    databasePoolSize: raw.DATABASE_POOL_SIZE,
    adminToken: secrets.ADMIN_TOKEN,
    adminTokenRetired: raw.ADMIN_TOKEN_RETIRED,
    metricsToken: raw.METRICS_TOKEN,
    jwtSecret: secrets.JWT_SECRET!,
    keyPepper: secrets.KEY_PEPPER!,
    keyPrefix: raw.KEY_PREFIX,
    configEncryptionKey: decodeKey(secrets.CONFIG_ENCRYPTION_KEY!)!,
    redisUrl: raw.REDIS_URL,
    redisKeyPrefix: raw.REDIS_KEY_PREFIX,
    smtpUrl: raw.SMTP_URL,
    mailFrom: raw.MAIL_FROM,
    docsEnabled: raw.DOCS_ENABLED ?? !isProduction,
    bodyLimit: raw.BODY_LIMIT,
    shutdownTimeoutMs: raw.SHUTDOWN_TIMEOUT_MS,
    accessTokenTtlSeconds: raw.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenDays: raw.REFRESH_TOKEN_DAYS,
    sessionIdleMinutes: raw.SESSION_IDLE_MINUTES,
    sessionAbsoluteHours: raw.SESSION_ABSOLUTE_HOURS,
    loginFailuresPerAccount: raw.LOGIN_FAILURES_PER_ACCOUNT,
    loginFailuresPerIp: raw.LOGIN_FAILURES_PER_IP,
    keyCacheTtlSeconds: raw.KEY_CACHE_TTL_SECONDS,
    auditRetentionDays: raw.AUDIT_RETENTION_DAYS,
  });
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'} ${issue.message}`).join('; ');
}

type GeneratedSecrets = Record<(typeof GENERATED_SECRETS)[number], string>;

/** Generates missing development secrets once into DATA_DIR/secrets.json (0600) and reuses them. */
function fillGeneratedSecrets(dataDir: string, given: Partial<Record<string, string>>): GeneratedSecrets {
  const file = join(dataDir, 'secrets.json');
  let stored: Partial<GeneratedSecrets> = {};
  if (existsSync(file)) {
    try {
      stored = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      throw new ConfigError(`Invalid configuration: ${file} is not valid JSON; fix or delete it`);
    }
  }
  const result = {} as GeneratedSecrets;
  let changed = false;
  for (const name of GENERATED_SECRETS) {
    const value = given[name] ?? stored[name];
    if (value) {
      result[name] = value;
      continue;
    }
    result[name] = randomBytes(32).toString(name === 'CONFIG_ENCRYPTION_KEY' ? 'hex' : 'base64url');
    stored[name] = result[name];
    changed = true;
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return result;
}
