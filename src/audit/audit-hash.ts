import { createHash } from 'node:crypto';

/** prev_hash of a tenant's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields a hash covers: everything about the event except its storage id and its own hash. */
export interface HashedFields {
  tenantId: string;
  seq: number;
  actorType: string;
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: string;
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  metadata: Record<string, unknown>;
  count: number;
  occurredAt: Date;
}

/** JSON with object keys sorted at every depth, so jsonb's reordering cannot change a hash. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** hash = SHA-256(prev_hash || canonical event), hex. */
export function eventHash(prevHash: string, event: HashedFields): string {
  const fields: HashedFields = {
    tenantId: event.tenantId,
    seq: Number(event.seq),
    actorType: event.actorType,
    actorId: event.actorId,
    action: event.action,
    targetType: event.targetType,
    targetId: event.targetId,
    outcome: event.outcome,
    reason: event.reason,
    ip: event.ip,
    userAgent: event.userAgent,
    requestId: event.requestId,
    metadata: event.metadata ?? {},
    count: event.count,
    occurredAt: new Date(event.occurredAt),
  };
  return createHash('sha256').update(prevHash).update(canonicalJson(fields)).digest('hex');
}
