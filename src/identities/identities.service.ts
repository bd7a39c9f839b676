import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock';
import { Principal } from '../common/auth/principal';
import { notFound } from '../common/http/errors';
import { Page } from '../common/http/pagination';
import { AppException } from '../common/http/problem';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import { ApiKey } from '../api-keys/api-key.entity';
import { visibleOwner } from '../api-keys/key-policy';
import { namedLimitsOf } from '../rate-limit/dto/rate-limit.dto';
import { QuotaDto } from '../api-keys/dto/api-keys.dto';
import { Identity } from './identity.entity';
import { IdentitiesRepository } from './identities.repository';
import {
  CreateIdentityDto,
  IdentityDto,
  ListIdentitiesQuery,
  toIdentityDto,
  UpdateIdentityDto,
} from './dto/identities.dto';

const forbidden = (message: string) => new AppException(HttpStatus.FORBIDDEN, 'IDENTITY_NOT_ALLOWED', message);

/**
 * Identities of the tenant's own system: made, listed, changed and deleted here, and all keys
 * of one revoked in one call. Every change is audited and announced on the invalidation bus,
 * so every instance drops the cached keys of the identity at once.
 */
@Injectable()
export class IdentitiesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly invalidations: InvalidationBus,
    private readonly audit: AuditService,
  ) {}

  async create(actor: Principal, dto: CreateIdentityDto): Promise<IdentityDto> {
    const tenantId = actor.tenantId!;
    return this.dataSource.transaction(async (manager) => {
      const created = await new IdentitiesRepository(manager).insert({
        tenantId,
        externalId: dto.externalId,
        meta: dto.meta ?? {},
        ratelimits: namedLimitsOf(dto.ratelimits ?? []),
        ...this.quotaColumns(dto.quota ?? null),
      });
      if (!created)
        throw new AppException(
          HttpStatus.CONFLICT,
          'IDENTITY_EXISTS',
          `This tenant already has an identity with externalId ${dto.externalId}`,
        );
      await this.record(manager, actor, 'identity.created', created, { externalId: created.externalId });
      return toIdentityDto(created);
    });
  }

  async list(actor: Principal, query: ListIdentitiesQuery): Promise<Page<IdentityDto>> {
    const [rows, total] = await new IdentitiesRepository(this.dataSource.manager).list(
      actor.tenantId!,
      query.page,
      query.limit,
    );
    return { items: rows.map(toIdentityDto), page: query.page, limit: query.limit, total };
  }

  async get(actor: Principal, externalId: string): Promise<IdentityDto> {
    return toIdentityDto(await this.find(new IdentitiesRepository(this.dataSource.manager), actor, externalId));
  }

  async update(actor: Principal, externalId: string, dto: UpdateIdentityDto): Promise<IdentityDto> {
    const saved = await this.dataSource.transaction(async (manager) => {
      const identities = new IdentitiesRepository(manager);
      await this.lockTenantShared(manager, actor.tenantId!);
      const identity = await this.find(identities, actor, externalId);
      await this.assertMayChange(manager, actor, identity);
      if (dto.meta !== undefined) identity.meta = dto.meta ?? {};
      if (dto.ratelimits !== undefined) identity.ratelimits = namedLimitsOf(dto.ratelimits ?? []);
      if (dto.quota !== undefined) Object.assign(identity, this.quotaColumns(dto.quota));
      const result = await identities.save(identity);
      const fields = Object.keys(dto).filter((field) => dto[field as keyof UpdateIdentityDto] !== undefined);
      await this.record(manager, actor, 'identity.updated', identity, { externalId, fields });
      return result;
    });
    await this.invalidations.publish({ kind: 'identity', identityId: saved.id });
    return toIdentityDto(saved);
  }

  /**
   * Deletes an identity. While working keys belong to it this is refused (409, with the ids of
   * those the caller sees) unless `force`: then its keys leave it (they keep working, without
   * its shared limits and quota), and the event says how many.
   */
  async remove(actor: Principal, externalId: string, force: boolean): Promise<void> {
    const identity = await this.dataSource.transaction(async (manager) => {
      const identities = new IdentitiesRepository(manager);
      await this.lockTenantShared(manager, actor.tenantId!);
      const identity = await this.find(identities, actor, externalId);
      await this.assertMayChange(manager, actor, identity);
      // The keys first, in the order key changes take them (key row, then identity row).
      const keyIds = await identities.workingKeyIds(identity.tenantId, identity.id, this.clock.now(), true);
      if (keyIds.length && !force) {
        throw new AppException(
          HttpStatus.CONFLICT,
          'IDENTITY_IN_USE',
          `${keyIds.length} key(s) belong to this identity: revoke them, move them, or delete with ?force=true`,
          { keyIds },
        );
      }
      await identities.remove(identity.tenantId, identity.id);
      await this.record(manager, actor, 'identity.deleted', identity, {
        externalId,
        detachedKeys: keyIds.length,
        force,
      });
      return identity;
    });
    await this.invalidations.publish({ kind: 'identity', identityId: identity.id });
  }

  /** Revokes, at once and for good, every key of the identity the caller sees; audited per key. */
  async revokeKeys(actor: Principal, externalId: string): Promise<{ revoked: number; keyIds: string[] }> {
    const result = await this.dataSource.transaction(async (manager) => {
      const identities = new IdentitiesRepository(manager);
      await this.lockTenantShared(manager, actor.tenantId!);
      const identity = await this.find(identities, actor, externalId);
      const keyIds = await identities.revokeKeys(identity.tenantId, identity.id, visibleOwner(actor), this.clock.now());
      for (const keyId of keyIds) {
        await this.audit.record(manager, {
          tenantId: identity.tenantId,
          actor: actorOf(actor),
          action: 'key.revoked',
          target: { type: 'api_key', id: keyId },
          metadata: { externalId },
        });
      }
      if (keyIds.length) await this.record(manager, actor, 'identity.keys_revoked', identity, { externalId, keyIds });
      return { identity, keyIds };
    });
    await this.invalidations.publish({ kind: 'identity', identityId: result.identity.id });
    for (const keyId of result.keyIds) await this.invalidations.publish({ kind: 'key', keyId });
    return { revoked: result.keyIds.length, keyIds: result.keyIds };
  }

  private async find(identities: IdentitiesRepository, actor: Principal, externalId: string): Promise<Identity> {
    const identity = await identities.findByExternalId(actor.tenantId!, externalId);
    if (!identity) throw notFound('Identity');
    return identity;
  }

  /**
   * Changing an identity's limits or quota, or deleting it, loosens every key of it. So a key
   * may not change the identity it belongs to, and someone who sees only their own keys may
   * change an identity only while all its keys are theirs.
   */
  private async assertMayChange(manager: EntityManager, actor: Principal, identity: Identity): Promise<void> {
    if (actor.kind === 'apiKey') {
      const own = await manager.getRepository(ApiKey).findOneBy({ id: actor.apiKeyId!, tenantId: actor.tenantId! });
      if (own?.identityId === identity.id) throw forbidden('A key cannot change or delete the identity it belongs to');
    }
    const owner = visibleOwner(actor);
    if (owner === undefined) return;
    if (await new IdentitiesRepository(manager).keysNotOwnedBy(identity.tenantId, identity.id, owner))
      throw forbidden('Keys of others belong to this identity: only owners and admins can change or delete it');
  }

  /** Shared lock on the tenant row, taken first as key creation and the audit log take it. */
  private async lockTenantShared(manager: EntityManager, tenantId: string): Promise<void> {
    await manager.query('SELECT 1 FROM tenants WHERE id = $1 FOR KEY SHARE', [tenantId]);
  }

  private quotaColumns(quota: QuotaDto | null): Pick<Identity, 'quotaRemaining' | 'quotaRefill' | 'quotaRefilledAt'> {
    if (!quota) return { quotaRemaining: null, quotaRefill: null, quotaRefilledAt: null };
    const refill = quota.refill ? { amount: quota.refill.amount, interval: quota.refill.interval } : null;
    return { quotaRemaining: quota.remaining, quotaRefill: refill, quotaRefilledAt: this.clock.now() };
  }

  private record(
    manager: EntityManager,
    actor: Principal,
    action: string,
    identity: Identity,
    metadata: Record<string, unknown>,
  ): Promise<void> {
    return this.audit.record(manager, {
      tenantId: identity.tenantId,
      actor: actorOf(actor),
      action,
      target: { type: 'identity', id: identity.id },
      metadata,
    });
  }
}
