import type { AuditEventDto } from '../audit/dto/audit.dto';
import type { UsageDto } from '../usage/dto/usage.dto';
import { barChart } from './chart';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The last `count` whole buckets up to and including the current one, as a usage query. */
export function lastBuckets(
  now: Date,
  granularity: 'hour' | 'day',
  count: number,
): { from: string; to: string; granularity: 'hour' | 'day' } {
  const step = granularity === 'hour' ? HOUR_MS : DAY_MS;
  const to = Math.floor(now.getTime() / step) * step + step;
  return { from: new Date(to - count * step).toISOString(), to: new Date(to).toISOString(), granularity };
}

/** A usage series as a chart (successes and denials stacked) plus the same numbers for a table. */
export function usageView(usage: UsageDto, title: string) {
  const label = (t: string) =>
    usage.granularity === 'hour' ? `${t.slice(5, 10)} ${t.slice(11, 13)}h` : t.slice(5, 10);
  const rows = usage.series.map((point) => ({
    label: usage.granularity === 'hour' ? `${t(point.t)} ${point.t.slice(11, 16)} UTC` : t(point.t),
    success: point.success,
    denied: Object.values(point.denied).reduce((sum, n) => sum + n, 0),
  }));
  const chart = barChart({
    title,
    labels: usage.series.map((point) => label(point.t)),
    series: [
      { name: 'Allowed', className: 'bar-ok', values: rows.map((row) => row.success) },
      { name: 'Denied', className: 'bar-denied', values: rows.map((row) => row.denied) },
    ],
    labelEvery: usage.granularity === 'hour' ? 6 : Math.ceil(rows.length / 10),
    emptyText: 'No requests in this period.',
  });
  const totals = {
    success: rows.reduce((sum, row) => sum + row.success, 0),
    denied: rows.reduce((sum, row) => sum + row.denied, 0),
  };
  return { title, chart, rows, totals };
}

const t = (iso: string) => iso.slice(0, 10);

/** Audit events as table rows: who and what in words, with links where the page may follow them. */
export function eventRows(events: AuditEventDto[], emails: Map<string, string>) {
  return events.map((event) => ({
    seq: event.seq,
    occurredAt: event.occurredAt,
    action: event.action,
    outcome: event.outcome,
    reason: event.reason,
    count: event.count,
    actor:
      event.actor.type === 'user'
        ? (emails.get(event.actor.id ?? '') ?? 'unknown user')
        : event.actor.type === 'api_key'
          ? 'API key'
          : event.actor.type === 'admin_token' || event.actor.type === 'operator'
            ? 'operator'
            : 'system',
    actorKeyId: event.actor.type === 'api_key' ? event.actor.id : null,
    target: event.target && describeTarget(event.target, emails),
    targetKeyId: event.target?.type === 'api_key' ? event.target.id : null,
    ip: event.ip,
  }));
}

function describeTarget(target: { type: string; id: string | null }, emails: Map<string, string>): string {
  if (target.type === 'user') return emails.get(target.id ?? '') ?? 'a user';
  if (target.type === 'api_key') return 'API key';
  if (target.type === 'tenant') return 'the tenant';
  if (target.type === 'config_entry') return `config ${target.id ?? ''}`;
  return `${target.type} ${target.id ?? ''}`.trim();
}
