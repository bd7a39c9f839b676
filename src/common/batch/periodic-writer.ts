import { BeforeApplicationShutdown, OnModuleDestroy, OnModuleInit } from '@nestjs/common';

/**
 * For services that gather counts in memory and write them in batches: `write` runs every
 * `intervalMs`, once more (with `final`) at shutdown, and never twice at the same time.
 */
export abstract class PeriodicWriter implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;

  protected constructor(private readonly intervalMs: number) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush(true);
  }

  /** Writes what is due now (everything when `final`); joins a write already under way. */
  flush(final = false): Promise<void> {
    this.writing ??= this.write(final).finally(() => (this.writing = undefined));
    return this.writing;
  }

  /** Must keep what it could not write for the next call. */
  protected abstract write(final: boolean): Promise<void>;
}
