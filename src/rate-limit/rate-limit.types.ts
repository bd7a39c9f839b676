/** A limit of `limit` uses per window of `windowSeconds`: on a key, or a tenant's default for its keys. */
export interface RateLimitSetting {
  limit: number;
  windowSeconds: number;
}

/** One of several limits a key or an identity carries, spent by name (see the verify call). */
export interface NamedRateLimit extends RateLimitSetting {
  name: string;
}

/** The name of the limit every request spends: a key's `rateLimit` (or its tenant's default). */
export const DEFAULT_LIMIT_NAME = 'default';

/** Names of rate limits: short, and safe in counter names and headers. */
export const RATE_LIMIT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$/;

/** How many named limits a key or an identity may carry (and a verify call may spend). */
export const MAX_NAMED_LIMITS = 10;

/** One use counted against a limit, and where the window stands after it. */
export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
}
