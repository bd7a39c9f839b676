/** A limit of `limit` uses per window of `windowSeconds`: on a key, or a tenant's default for its keys. */
export interface RateLimitSetting {
  limit: number;
  windowSeconds: number;
}

/** One use counted against a limit, and where the window stands after it. */
export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
}
