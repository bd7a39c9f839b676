import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditActor } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import type { ClientInfo } from '../common/http/client-info';

/**
 * Factors belong to a person, audit trails to tenants: an event about a person's factors is
 * written to every tenant they belong to, with their membership there as the target, so each
 * tenant's owners see what happened to their member's sign-in.
 */
@Injectable()
export class MfaAudit {
  constructor(private readonly audit: AuditService) {}

  /** One event in one tenant (a tenant setting). */
  recordIn(
    manager: EntityManager,
    tenantId: string,
    event: {
      action: string;
      actor: AuditActor;
      target: { type: string; id: string };
      client?: ClientInfo;
      metadata?: Record<string, unknown>;
    },
  ): Promise<void> {
    return this.audit.record(manager, { tenantId, ...event });
  }

  async recordForPerson(
    manager: EntityManager,
    personId: string,
    event: {
      action: string;
      client?: ClientInfo;
      metadata?: Record<string, unknown>;
      /** Who did it; by default the person (their membership in each tenant). */
      actor?: AuditActor;
      outcome?: 'success' | 'failure';
    },
  ): Promise<void> {
    const memberships: { id: string; tenant_id: string }[] = await manager.query(
      'SELECT id, tenant_id FROM users WHERE person_id = $1 ORDER BY tenant_id',
      [personId],
    );
    for (const membership of memberships) {
      const self: AuditActor = { type: 'user', id: membership.id };
      await this.audit.record(manager, {
        tenantId: membership.tenant_id,
        actor: event.actor ?? self,
        action: event.action,
        target: { type: 'user', id: membership.id },
        outcome: event.outcome,
        client: event.client,
        metadata: event.metadata,
      });
    }
  }
}
