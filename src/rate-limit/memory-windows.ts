import type { RateLimitResult } from './rate-limit.types';

interface Window {
  limit: number;
  windowSeconds: number;
  count: number;
  endsAt: number;
}

/** How often ended windows are dropped, so names that stop coming do not pile up. */
const SWEEP_INTERVAL_MS = 10_000;

/**
 * Fixed-window counters in this process, answered synchronously: every API-key request counts
 * here, and a promise per request would cost more than the counting. A window starts with the
 * first event under a name and lasts `windowSeconds`; events past the limit still count, as in
 * rate-limiter-flexible. A changed limit or window starts afresh. `cost` is how many events one
 * use counts for (0 reads the window without counting).
 */
export class MemoryWindows {
  private readonly windows = new Map<string, Window>();
  private nextSweepAt = 0;

  consume(name: string, limit: number, windowSeconds: number, now: number, cost = 1): RateLimitResult {
    if (now >= this.nextSweepAt) this.sweep(now);
    let window = this.windows.get(name);
    if (!window || window.endsAt <= now || window.limit !== limit || window.windowSeconds !== windowSeconds) {
      window = { limit, windowSeconds, count: 0, endsAt: now + windowSeconds * 1000 };
      this.windows.set(name, window);
    }
    window.count += cost;
    return {
      allowed: window.count <= limit,
      limit,
      remaining: Math.max(0, limit - window.count),
      resetSeconds: Math.max(1, Math.ceil((window.endsAt - now) / 1000)),
    };
  }

  /** Names whose window has not been swept yet. */
  get size(): number {
    return this.windows.size;
  }

  private sweep(now: number): void {
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const [name, window] of this.windows) if (window.endsAt <= now) this.windows.delete(name);
  }
}
