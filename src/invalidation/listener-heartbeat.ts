import { randomUUID } from 'node:crypto';

/** The channel heartbeats travel on; the listener LISTENs on it beside the change channel. */
export const HEARTBEAT_CHANNEL = 'keyward_listener_heartbeat';
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** A heartbeat not heard back this long after it was sent means the listener is deaf. */
export const HEARTBEAT_DEADLINE_MS = 3_000;
/**
 * While deaf, changes made on other instances reach this one only by expiry: cached keys and
 * configuration documents live at most this long.
 */
export const DEAF_CACHE_TTL_MS = 2_000;

/** unknown: no heartbeat judged yet; hearing: the last one came back; deaf: one did not. */
export type ListenerState = 'unknown' | 'hearing' | 'deaf';

export interface HeartbeatOptions {
  /** Sends a NOTIFY with this payload on HEARTBEAT_CHANNEL (through the ordinary pool). */
  send(payload: string): Promise<void>;
  onDeaf(): void;
  onHearing(): void;
  intervalMs?: number;
  deadlineMs?: number;
}

/**
 * Proves that LISTEN hears what is NOTIFYed: behind a transaction-pooling PgBouncer the LISTEN
 * lands on a server connection that is handed to someone else, and notifications silently
 * stop. Each heartbeat is a NOTIFY this instance must hear back within the deadline.
 */
export class ListenerHeartbeat {
  private readonly id = randomUUID();
  private sent = 0;
  private heard = 0;
  private timer?: NodeJS.Timeout;
  private deadline?: NodeJS.Timeout;
  private current: ListenerState = 'unknown';

  constructor(private readonly options: HeartbeatOptions) {}

  get state(): ListenerState {
    return this.current;
  }

  start(): void {
    if (this.timer) return;
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.options.intervalMs ?? HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.deadline);
    this.timer = this.deadline = undefined;
  }

  /** Call with every payload that arrives on HEARTBEAT_CHANNEL. */
  receive(payload: string | undefined): void {
    const [id, seq] = (payload ?? '').split(':');
    if (id !== this.id) return; // another instance's heartbeat
    this.heard = Math.max(this.heard, Number(seq) || 0);
    if (this.current !== 'hearing') {
      this.current = 'hearing';
      this.options.onHearing();
    }
  }

  private async beat(): Promise<void> {
    const seq = ++this.sent;
    try {
      await this.options.send(`${this.id}:${seq}`);
    } catch {
      // The database is unreachable: that is /ready's database check, not a verdict on LISTEN.
      return;
    }
    if (this.deadline || !this.timer) return;
    this.deadline = setTimeout(() => {
      this.deadline = undefined;
      if (this.heard >= seq || !this.timer) return;
      if (this.current !== 'deaf') {
        this.current = 'deaf';
        this.options.onDeaf();
      }
    }, this.options.deadlineMs ?? HEARTBEAT_DEADLINE_MS);
    this.deadline.unref();
  }
}
