import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json';

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
