import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';
import { PeriodicWriter } from '../common/batch/periodic-writer';
import { AuditService } from './audit.service';

const MINUTE_MS = 60_000;
const FLUSH_INTERVAL_MS = 5_000;
/** Bound on distinct key/ip/code/minute combinations held; past it new ones are dropped (and counted). */
const MAX_PENDING = 50_000;

interface Pending {
  tenantId: string;
  keyId: string;
  ip: string;
  code: string;
  minute: number;
  count: number;
}

/**
 * Denied uses of known keys, aggregated in memory into one audit row per key/ip/code/minute
 * with a count: a flood of bad requests costs no write per request and a few rows per minute.
 * Closed minutes are written every few seconds; everything at shutdown.
 */
@Injectable()
export class KeyDenialsService extends PeriodicWriter {
  private readonly logger = new Logger(KeyDenialsService.name);
  private pending = new Map<string, Pending>();
  private dropped = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {
    super(FLUSH_INTERVAL_MS);
  }

  note(tenantId: string, keyId: string, ip: string, code: string): void {
    const minute = Math.floor(this.clock.now().getTime() / MINUTE_MS);
    const id = `${minute}|${keyId}|${ip}|${code}`;
    const entry = this.pending.get(id);
    if (entry) entry.count++;
    else if (this.pending.size < MAX_PENDING) this.pending.set(id, { tenantId, keyId, ip, code, minute, count: 1 });
    else this.dropped++;
  }

  /** Writes the minutes that are over (all of them when `all`); on failure keeps them for the next try. */
  protected async write(all: boolean): Promise<void> {
    const current = Math.floor(this.clock.now().getTime() / MINUTE_MS);
    const due = [...this.pending].filter(([, entry]) => all || entry.minute < current);
    if (this.dropped) {
      this.logger.warn({
        msg: 'denied key uses not audited: too many distinct keys and addresses at once',
        dropped: this.dropped,
      });
      this.dropped = 0;
    }
    if (!due.length) return;
    for (const [id] of due) this.pending.delete(id);
    const byTenant = new Map<string, Pending[]>();
    for (const [, entry] of due) byTenant.set(entry.tenantId, [...(byTenant.get(entry.tenantId) ?? []), entry]);
    for (const [tenantId, entries] of byTenant) {
      try {
        await this.dataSource.transaction(async (manager) => {
          for (const entry of entries) {
            await this.audit.record(manager, {
              tenantId,
              actor: { type: 'api_key', id: entry.keyId },
              action: 'key.denied',
              target: { type: 'api_key', id: entry.keyId },
              outcome: 'denied',
              reason: entry.code,
              client: { ip: entry.ip },
              count: entry.count,
              occurredAt: new Date(entry.minute * MINUTE_MS),
            });
          }
        });
      } catch (err) {
        for (const entry of entries) this.restore(entry);
        this.logger.warn({ msg: 'could not write denied key uses; will retry', err });
      }
    }
  }

  private restore(entry: Pending): void {
    const id = `${entry.minute}|${entry.keyId}|${entry.ip}|${entry.code}`;
    const newer = this.pending.get(id);
    if (newer) newer.count += entry.count;
    else this.pending.set(id, entry);
  }
}
