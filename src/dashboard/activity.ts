import type { AuditEventDto } from '../audit/dto/audit.dto';
import type { Principal } from '../common/auth/principal';
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

/** The names of the keys these events name (as actor or target), as far as the caller may see them. */
export function keyNames(
  keys: { namesOf(actor: Principal, ids: string[]): Promise<Map<string, string>> },
  actor: Principal,
  events: AuditEventDto[],
): Promise<Map<string, string>> {
  const ids = events.flatMap((event) => [
    event.actor.type === 'api_key' ? event.actor.id : null,
    event.target?.type === 'api_key' ? event.target.id : null,
  ]);
  return keys.namesOf(
    actor,
    ids.filter((id): id is string => Boolean(id)),
  );
}

/** Audit events as table rows: who and what in words, with links where the page may follow them. */
export function eventRows(events: AuditEventDto[], emails: Map<string, string>, keys = new Map<string, string>()) {
  const keyName = (id: string | null) => {
    const name = id ? keys.get(id) : undefined;
    return name ? `key “${name}”` : 'a key you cannot see';
  };
  return events.map((event) => ({
    id: event.id,
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
          ? keyName(event.actor.id)
          : event.actor.type === 'admin_token' || event.actor.type === 'operator'
            ? 'operator'
            : 'system',
    actorKeyId: event.actor.type === 'api_key' && keys.has(event.actor.id ?? '') ? event.actor.id : null,
    target: event.target && describeTarget(event.target, emails, keyName),
    targetKeyId: event.target?.type === 'api_key' && keys.has(event.target.id ?? '') ? event.target.id : null,
    ip: event.ip,
    userAgent: event.userAgent,
    requestId: event.requestId,
    metadata: Object.keys(event.metadata ?? {}).length ? JSON.stringify(event.metadata, null, 2) : null,
  }));
}

function describeTarget(
  target: { type: string; id: string | null },
  emails: Map<string, string>,
  keyName: (id: string | null) => string,
): string {
  if (target.type === 'user') return emails.get(target.id ?? '') ?? 'a user';
  if (target.type === 'api_key') return keyName(target.id);
  if (target.type === 'tenant') return 'the tenant';
  if (target.type === 'config_entry') return `config ${target.id ?? ''}`;
  return `${target.type} ${target.id ?? ''}`.trim();
}
