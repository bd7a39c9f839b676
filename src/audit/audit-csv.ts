import type { AuditEventDto } from './dto/audit.dto';

const CSV_COLUMNS = [
  'occurredAt',
  'seq',
  'tenantId',
  'actorType',
  'actorId',
  'action',
  'targetType',
  'targetId',
  'outcome',
  'reason',
  'ip',
  'userAgent',
  'requestId',
  'count',
  'metadata',
  'hash',
] as const;

/** A spreadsheet reads a cell that starts with one of these as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;
/** Separators (spreadsheets split on `;` as well as `,`), quotes and line breaks. */
const NEEDS_QUOTES = /[,;"\r\n]/;

/**
 * One CSV cell, safe to open in a spreadsheet (OWASP CSV injection): a cell that starts like a
 * formula gets a leading `'` so it stays text, and every cell that holds a separator, quote,
 * line break or such a start is quoted, with its quotes doubled.
 */
export function csvCell(value: unknown): string {
  let text =
    value === null || value === undefined
      ? ''
      : value instanceof Date
        ? value.toISOString()
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
  const formula = FORMULA_START.test(text);
  if (formula) text = `'${text}`;
  return formula || NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const CSV_HEADER = CSV_COLUMNS.join(',') + '\r\n';

export function csvRow(event: AuditEventDto): string {
  const flat: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    occurredAt: event.occurredAt,
    seq: event.seq,
    tenantId: event.tenantId,
    actorType: event.actor.type,
    actorId: event.actor.id,
    action: event.action,
    targetType: event.target?.type,
    targetId: event.target?.id,
    outcome: event.outcome,
    reason: event.reason,
    ip: event.ip,
    userAgent: event.userAgent,
    requestId: event.requestId,
    count: event.count,
    metadata: event.metadata,
    hash: event.hash,
  };
  return CSV_COLUMNS.map((column) => csvCell(flat[column])).join(',') + '\r\n';
}
