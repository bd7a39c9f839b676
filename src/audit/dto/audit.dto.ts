import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { Principal } from '../../common/auth/principal';
import { ActorType, AuditEvent, AuditOutcome } from '../audit-event.entity';
import { IsIntBetween } from '../../common/validation/validators';

export const ACTOR_TYPES: ActorType[] = ['user', 'api_key', 'admin_token', 'operator', 'system'];
export const OUTCOMES: AuditOutcome[] = ['success', 'failure', 'denied'];

export interface AuditActor {
  type: ActorType;
  id: string | null;
}

export const SYSTEM_ACTOR: AuditActor = Object.freeze({ type: 'system', id: null }) as AuditActor;
export const ADMIN_ACTOR: AuditActor = Object.freeze({ type: 'admin_token', id: null }) as AuditActor;

/** Who did it, from the principal of the request. */
export function actorOf(principal: Principal): AuditActor {
  if (principal.kind === 'user') return { type: 'user', id: principal.userId ?? null };
  if (principal.kind === 'apiKey') return { type: 'api_key', id: principal.apiKeyId ?? null };
  if (principal.operatorId) return { type: 'operator', id: principal.operatorId };
  return ADMIN_ACTOR;
}

/** Where a request came from; all optional (null when the call site does not know). */
export interface AuditClient {
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

/** What a caller records. Metadata must never carry a secret (keys, tokens, passwords, secret values). */
export interface AuditInput {
  tenantId: string;
  actor: AuditActor;
  action: string;
  target?: { type: string; id: string | null };
  outcome?: AuditOutcome;
  reason?: string | null;
  client?: AuditClient;
  metadata?: Record<string, unknown>;
  count?: number;
  occurredAt?: Date;
}

export class ListAuditEventsQuery {
  @ApiPropertyOptional({ enum: ACTOR_TYPES })
  @IsOptional()
  @IsIn(ACTOR_TYPES)
  actorType?: ActorType;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  actorId?: string;

  @ApiPropertyOptional({ example: 'key.created' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  action?: string;

  @ApiPropertyOptional({ example: 'api_key' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  targetType?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  targetId?: string;

  @ApiPropertyOptional({ enum: OUTCOMES })
  @IsOptional()
  @IsIn(OUTCOMES)
  outcome?: AuditOutcome;

  @ApiPropertyOptional({ description: 'Events at or after this time (ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'Events before this time (ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ default: 50, maximum: 200 })
  @IsOptional()
  @Type(() => Number)
  @IsIntBetween(1, 200)
  limit: number = 50;

  @ApiPropertyOptional({ enum: ['json', 'csv'], description: 'csv streams every matching event (no paging)' })
  @IsOptional()
  @IsIn(['json', 'csv'])
  format?: 'json' | 'csv';
}

export class AdminListAuditEventsQuery extends ListAuditEventsQuery {
  @ApiPropertyOptional()
  @IsOptional()
  @IsUUID()
  tenantId?: string;
}

export interface AuditEventDto {
  id: string;
  tenantId: string;
  seq: number;
  actor: AuditActor;
  action: string;
  target: { type: string; id: string | null } | null;
  outcome: AuditOutcome;
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  metadata: Record<string, unknown>;
  count: number;
  occurredAt: Date;
  prevHash: string;
  hash: string;
}

export interface AuditEventPage {
  items: AuditEventDto[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface ChainVerification {
  valid: boolean;
  checked: number;
  firstBrokenSeq?: number;
  reason?: 'SEQ_GAP' | 'PREV_HASH_MISMATCH' | 'HASH_MISMATCH';
  /** Seq of the last pruned event, where verification started. */
  anchorSeq?: number;
}

export function toAuditEventDto(event: AuditEvent): AuditEventDto {
  return {
    id: String(event.id),
    tenantId: event.tenantId,
    seq: Number(event.seq),
    actor: { type: event.actorType, id: event.actorId },
    action: event.action,
    target: event.targetType ? { type: event.targetType, id: event.targetId } : null,
    outcome: event.outcome,
    reason: event.reason,
    ip: event.ip,
    userAgent: event.userAgent,
    requestId: event.requestId,
    metadata: event.metadata,
    count: event.count,
    occurredAt: event.occurredAt,
    prevHash: event.prevHash,
    hash: event.hash,
  };
}
