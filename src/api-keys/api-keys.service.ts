import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf, AuditClient } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock';
import { Principal } from '../common/auth/principal';
import { SCOPES } from '../common/auth/scopes';
import { notFound } from '../common/http/errors';
import { Page } from '../common/http/pagination';
import { AppException } from '../common/http/problem';
import { Tenant } from '../tenants/tenant.entity';
import { User } from '../users/user.entity';
import { ApiKey } from './api-key.entity';
import { ApiKeyVerifier } from './api-key-verifier.service';
import {
  AdminCreateApiKeyDto,
  ApiKeyDto,
  CreateTenantApiKeyDto,
  ListApiKeysQuery,
  QuotaDto,
  RotateApiKeyDto,
  toApiKeyDto,
  UpdateApiKeyDto,
} from './dto/api-keys.dto';
import { ApiKeysRepository, OwnerScope } from './api-keys.repository';
import { StepUpService } from '../mfa/step-up.service';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import { KeyGrants, KeyGrantsRepository } from '../permissions/key-grants.repository';
import {
  beyondBounds,
  boundsOfKey,
  boundsOfPerson,
  capReached,
  ContainmentDenial,
  expiryOfNewKey,
  grantableScopes,
  isEnded,
  isExpired,
  KeyBounds,
  ownerOfNewKey,
  termsOf,
  visibleOwner,
} from './key-policy';

const DEFAULT_GRACE_SECONDS = 86_400;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type CreatedApiKey = ApiKeyDto & { apiKey: string };

const forbidden = (code: string, message: string) => new AppException(HttpStatus.FORBIDDEN, code, message);
const invalid = (message: string) => new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', message);
const refuse = (denial: ContainmentDenial | undefined) => {
  if (denial) throw forbidden(denial.code, denial.message);
};

/**
 * Keys: create, list, change, rotate, revoke. The rules (who sees what, what may be handed
 * out, when a key works) are in key-policy.ts; this service applies them in transactions.
 */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly verifier: ApiKeyVerifier,
    private readonly invalidations: InvalidationBus,
    private readonly audit: AuditService,
    private readonly stepUp: StepUpService,
  ) {}

  /** The operator makes a key for a tenant (its first one, typically). */
  adminCreate(dto: AdminCreateApiKeyDto): Promise<CreatedApiKey> {
    return this.create(
      { kind: 'admin', tenantId: dto.tenantId, scopes: [...SCOPES] },
      { ...dto, userId: dto.userId ?? null },
    );
  }

  /**
   * A user or key makes a key in its own tenant. What it may give is capped by what it has:
   * a key passes on at most its own scopes, expiry, quota, addresses and rate limit; a user at
   * most what the role allows.
   */
  async create(actor: Principal, dto: CreateTenantApiKeyDto, client: AuditClient = {}): Promise<CreatedApiKey> {
    const tenantId = actor.tenantId!;
    const owner = ownerOfNewKey(actor, dto);
    if ('denied' in owner) throw forbidden('FORBIDDEN', owner.denied);
    const { ownerId } = owner;
    const now = this.clock.now();
    return this.dataSource.transaction(async (manager) => {
      const keys = new ApiKeysRepository(manager);
      const tenant = await keys.lockTenant(tenantId);
      if (!tenant) throw notFound('Tenant');
      const ownerUser = ownerId ? await manager.getRepository(User).findOneBy({ id: ownerId, tenantId }) : null;
      if (ownerId && (!ownerUser || ownerUser.status !== 'active')) throw notFound('User');

      const grantable = grantableScopes(actor, ownerUser?.role);
      const scopes = dto.scopes ?? tenant.defaultKeyScopes.filter((scope) => grantable.includes(scope));
      const beyond = scopes.filter((scope) => !grantable.includes(scope));
      if (beyond.length) throw forbidden('SCOPE_NOT_ALLOWED', `You may not grant: ${beyond.join(' ')}`);
      if (scopes.includes('config:secrets')) await this.stepUp.assertFresh(actor, manager);
      const creator = await this.actingKey(manager, actor);
      const grantsRepo = new KeyGrantsRepository(manager);
      const grants: KeyGrants = { permissions: dto.permissions ?? [], roles: dto.roles ?? [] };
      const permissionIds = await grantsRepo.permissionIds(tenantId, grants.permissions);
      const roleIds = await grantsRepo.roleIds(tenantId, grants.roles);
      const expiry = expiryOfNewKey(dto, creator?.expiresAt ?? null, tenant.maxKeyLifetimeDays, now);
      if ('invalid' in expiry) throw invalid(expiry.invalid);
      if ('code' in expiry) throw forbidden(expiry.code, expiry.message);

      // What the creating key does not say, it passes on: its addresses and its rate limit.
      const values = {
        scopes,
        expiresAt: expiry.expiresAt,
        ipAllowlist:
          dto.ipAllowlist === undefined
            ? (creator?.ipAllowlist ?? null)
            : dto.ipAllowlist.length
              ? dto.ipAllowlist
              : null,
        rateLimit: dto.rateLimit
          ? { limit: dto.rateLimit.limit, windowSeconds: dto.rateLimit.windowSeconds }
          : (creator?.rateLimit ?? null),
        ...this.quotaColumns(dto.quota ?? null),
      };
      refuse(
        beyondBounds(
          termsOf(values, tenant.defaultKeyRateLimit, grants),
          await this.boundsOf(manager, actor, creator, tenant),
        ),
      );
      await this.assertRoom(keys, tenant, ownerId, now);

      const created = await this.insertKey(keys, {
        ...values,
        tenantId,
        userId: ownerId,
        createdByUserId: actor.kind === 'user' ? actor.userId! : null,
        createdByKeyId: actor.kind === 'apiKey' ? actor.apiKeyId! : null,
        name: dto.name ?? 'API key',
        metadata: dto.metadata ?? {},
      });
      await grantsRepo.setKeyGrants(tenantId, created.id, { permissionIds, roleIds });
      await this.audit.record(manager, {
        tenantId,
        actor: actorOf(actor),
        action: 'key.created',
        target: { type: 'api_key', id: created.id },
        client,
        metadata: { name: created.name, scopes, ownerId, expiresAt: expiry.expiresAt, ...grants },
      });
      return { ...created, permissions: [...grants.permissions].sort(), roles: [...grants.roles].sort() };
    });
  }

  async list(actor: Principal, query: ListApiKeysQuery, onlyOwn = false): Promise<Page<ApiKeyDto>> {
    const now = this.clock.now();
    let owner: OwnerScope;
    if (query.owner === 'service') owner = null;
    else if (query.owner) {
      if (!UUID.test(query.owner)) throw invalid("owner must be a user id or 'service'");
      owner = query.owner;
    }
    const [rows, total] = await new ApiKeysRepository(this.dataSource.manager).list(
      actor.tenantId!,
      {
        visibleOwner: onlyOwn ? (actor.userId ?? null) : visibleOwner(actor),
        owner,
        status: query.status,
        page: query.page,
        limit: query.limit,
      },
      now,
    );
    const successors = await this.successorsOf(actor.tenantId!, rows);
    const grants = await new KeyGrantsRepository(this.dataSource.manager).grantsOf(
      actor.tenantId!,
      rows.map((row) => row.id),
    );
    const items = rows.map((row) => toApiKeyDto(row, now, successors.get(row.id) ?? null, grants.get(row.id)));
    return { items, page: query.page, limit: query.limit, total };
  }

  async get(actor: Principal, id: string): Promise<ApiKeyDto> {
    const keys = new ApiKeysRepository(this.dataSource.manager);
    const key = await this.findVisible(keys, actor, id);
    const successors = await this.successorsOf(actor.tenantId!, [key], keys);
    const grants = await new KeyGrantsRepository(this.dataSource.manager).grantsOf(key.tenantId, [key.id]);
    return toApiKeyDto(key, this.clock.now(), successors.get(key.id) ?? null, grants.get(key.id));
  }

  /** Successors of the rotated keys among these (only those have one). */
  private successorsOf(tenantId: string, rows: ApiKey[], keys = new ApiKeysRepository(this.dataSource.manager)) {
    const rotated = rows.filter((row) => row.graceUntil !== null || row.revokedAt !== null).map((row) => row.id);
    return keys.successorIds(tenantId, rotated);
  }

  /**
   * Changes a key. Scopes only narrow and expiry only comes earlier, whoever asks; and the key
   * that results must be one the caller could have created, so a narrow key cannot lift a
   * stronger key's allowlist, quota or rate limit, nor enable it again.
   */
  async update(actor: Principal, id: string, dto: UpdateApiKeyDto): Promise<ApiKeyDto> {
    const now = this.clock.now();
    const [saved, grants] = await this.dataSource.transaction(async (manager) => {
      const keys = new ApiKeysRepository(manager);
      const key = await this.findVisible(keys, actor, id, true);
      const grantsRepo = new KeyGrantsRepository(manager);
      const before = (await grantsRepo.grantsOf(key.tenantId, [key.id])).get(key.id)!;
      const grants: KeyGrants = {
        permissions: dto.permissions ?? before.permissions,
        roles: dto.roles ?? before.roles,
      };
      const permissionIds = dto.permissions && (await grantsRepo.permissionIds(key.tenantId, dto.permissions));
      const roleIds = dto.roles && (await grantsRepo.roleIds(key.tenantId, dto.roles));
      if (key.revokedAt) throw new AppException(HttpStatus.CONFLICT, 'KEY_REVOKED', 'A revoked key cannot be changed');
      const wasDisabled = key.disabledAt !== null;
      if (dto.scopes) {
        const widened = dto.scopes.filter((scope) => !key.scopes.includes(scope));
        if (widened.length)
          throw forbidden('SCOPE_NOT_ALLOWED', `Scopes can only be narrowed; not allowed: ${widened.join(' ')}`);
        key.scopes = dto.scopes;
      }
      if (dto.expiresAt !== undefined) {
        const expiresAt = new Date(dto.expiresAt);
        if (expiresAt <= now) throw invalid('expiresAt must be in the future');
        if (key.expiresAt && expiresAt > key.expiresAt)
          throw forbidden('EXPIRY_NOT_ALLOWED', 'Expiry can only be made earlier');
        key.expiresAt = expiresAt;
      }
      if (dto.disabled !== undefined) key.disabledAt = dto.disabled ? (key.disabledAt ?? now) : null;
      if (dto.name !== undefined) key.name = dto.name;
      if (dto.metadata !== undefined) key.metadata = dto.metadata;
      // null: back to the tenant's default.
      if (dto.rateLimit !== undefined)
        key.rateLimit = dto.rateLimit && { limit: dto.rateLimit.limit, windowSeconds: dto.rateLimit.windowSeconds };
      if (dto.ipAllowlist !== undefined) key.ipAllowlist = dto.ipAllowlist?.length ? dto.ipAllowlist : null;
      if (dto.quota !== undefined) Object.assign(key, this.quotaColumns(dto.quota));
      await this.assertCouldHaveCreated(manager, actor, key, grants);

      const result = await keys.save(key);
      await grantsRepo.setKeyGrants(key.tenantId, key.id, { permissionIds, roleIds });
      const record = (action: string, metadata: Record<string, unknown> = {}) =>
        this.audit.record(manager, {
          tenantId: key.tenantId,
          actor: actorOf(actor),
          action,
          target: { type: 'api_key', id: key.id },
          metadata,
        });
      if (dto.disabled !== undefined && dto.disabled !== wasDisabled)
        await record(dto.disabled ? 'key.disabled' : 'key.enabled');
      // Names of what changed; the values (metadata, allowlists) stay in the key's own record.
      const fields = Object.keys(dto).filter(
        (field) => field !== 'disabled' && dto[field as keyof UpdateApiKeyDto] !== undefined,
      );
      if (fields.length) await record('key.updated', { fields, ...(dto.permissions || dto.roles ? grants : {}) });
      return [result, grants] as const;
    });
    await this.invalidations.publish({ kind: 'key', keyId: id });
    return toApiKeyDto(saved, now, null, {
      permissions: [...grants.permissions].sort(),
      roles: [...grants.roles].sort(),
    });
  }

  /**
   * Revokes at once and for good. Revoking an already revoked key is a no-op. Any caller that
   * sees a key may end it, whatever the key holds: ending takes away and hands out nothing.
   */
  async revoke(actor: Principal, id: string): Promise<void> {
    const key = await this.dataSource.transaction(async (manager) => {
      const keys = new ApiKeysRepository(manager);
      const key = await this.findVisible(keys, actor, id);
      if (await keys.revoke(key.tenantId, key.id, this.clock.now())) {
        await this.audit.record(manager, {
          tenantId: key.tenantId,
          actor: actorOf(actor),
          action: 'key.revoked',
          target: { type: 'api_key', id: key.id },
        });
      }
      return key;
    });
    await this.invalidations.publish({ kind: 'key', keyId: key.id });
  }

  /** Revokes one of the caller's own keys, named by its full value or its id. */
  async revokeOwn(actor: Principal, keyOrId: string): Promise<void> {
    const by = UUID.test(keyOrId) ? { id: keyOrId } : { keyHash: this.verifier.format.hash(keyOrId) };
    const key = await new ApiKeysRepository(this.dataSource.manager).findOwn(actor.tenantId!, actor.userId ?? null, by);
    if (!key) throw notFound('API key');
    await this.revoke(actor, key.id);
  }

  /**
   * A key revokes itself: whoever holds a key may always end it, whatever its scopes, so a
   * `config:read` key of the CLI can sign out without a password.
   */
  async revokeCalling(actor: Principal): Promise<void> {
    await this.revoke(actor, actor.apiKeyId!);
  }

  /** The caller's own active keys (the CLI's list). */
  async listOwnActive(actor: Principal): Promise<ApiKeyDto[]> {
    const page = await this.list(
      actor,
      Object.assign(new ListApiKeysQuery(), { status: 'active', page: 1, limit: 100 }),
      true,
    );
    return page.items;
  }

  /**
   * A new key with the same name, scopes, owner, limits and metadata. The old one keeps
   * working for the grace period (never past its own expiry), then counts as revoked. While it
   * works it holds its place under the key caps, so rotating never yields more working keys
   * than creating could; a rotation without grace frees the place at once.
   */
  async rotate(actor: Principal, id: string, dto: RotateApiKeyDto): Promise<CreatedApiKey> {
    const now = this.clock.now();
    const created = await this.dataSource.transaction(async (manager) => {
      const keys = new ApiKeysRepository(manager);
      // The tenant row first, as create takes it: the cap check below is then race-free.
      const tenant = await keys.lockTenant(actor.tenantId!);
      if (!tenant) throw notFound('API key');
      const old = await this.findVisible(keys, actor, id, true);
      // A rotation makes a new secret with the same scopes: the same step-up as creating it.
      if (old.scopes.includes('config:secrets')) await this.stepUp.assertFresh(actor, manager);
      // A key already rotated away is on its way out: rotating it again would extend its grace.
      if (isEnded(old, now) || old.graceUntil || isExpired(old, now)) {
        const successorId = (await keys.successorIds(old.tenantId, [old.id])).get(old.id);
        if (successorId)
          throw new AppException(
            HttpStatus.CONFLICT,
            'KEY_ALREADY_ROTATED',
            `This key was already rotated; its successor is ${successorId}: rotate that one instead`,
            { successorId },
          );
        throw new AppException(HttpStatus.CONFLICT, 'KEY_NOT_ACTIVE', 'Only an active key can be rotated');
      }
      // Rotating hands out a new key with the old one's terms: only a caller that could have created it may.
      const grantsRepo = new KeyGrantsRepository(manager);
      const grants = (await grantsRepo.grantsOf(old.tenantId, [old.id])).get(old.id)!;
      await this.assertCouldHaveCreated(manager, actor, old, grants, tenant);
      const graceMs = (dto.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
      const graceUntil = new Date(Math.min(now.getTime() + graceMs, old.expiresAt?.getTime() ?? Infinity));
      await keys.endWithGrace(old.tenantId, old.id, graceMs === 0 ? { revokedAt: now } : { graceUntil });
      await this.assertRoom(keys, tenant, old.userId, now);
      const created = await this.insertKey(keys, {
        tenantId: old.tenantId,
        userId: old.userId,
        createdByUserId: actor.kind === 'user' ? actor.userId! : null,
        createdByKeyId: actor.kind === 'apiKey' ? actor.apiKeyId! : null,
        name: old.name,
        scopes: old.scopes,
        expiresAt: old.expiresAt,
        rateLimit: old.rateLimit,
        quotaRemaining: old.quotaRemaining,
        quotaRefill: old.quotaRefill,
        quotaRefilledAt: old.quotaRefilledAt,
        ipAllowlist: old.ipAllowlist,
        metadata: old.metadata,
        rotatedFromId: old.id,
        disabledAt: old.disabledAt,
      });
      // The successor carries the same permissions and roles.
      await grantsRepo.copyKeyGrants(old.tenantId, old.id, created.id);
      await this.audit.record(manager, {
        tenantId: old.tenantId,
        actor: actorOf(actor),
        action: 'key.rotated',
        target: { type: 'api_key', id: old.id },
        metadata: { newKeyId: created.id, oldKeyEndsAt: graceMs === 0 ? now : graceUntil },
      });
      return { ...created, ...grants };
    });
    await this.invalidations.publish({ kind: 'key', keyId: id });
    return created;
  }

  private async insertKey(keys: ApiKeysRepository, values: Partial<ApiKey>): Promise<CreatedApiKey> {
    const format = this.verifier.format;
    const apiKey = format.generate();
    const saved = await keys.insert({ ...values, keyHash: format.hash(apiKey), hint: format.hint(apiKey) });
    return { apiKey, ...toApiKeyDto(saved, this.clock.now()) };
  }

  /** The key a request is made with, when it is made with one: what it hands out is bounded by it. */
  private async actingKey(manager: EntityManager, actor: Principal): Promise<ApiKey | null> {
    if (actor.kind !== 'apiKey') return null;
    const key = await new ApiKeysRepository(manager).findById(actor.tenantId!, actor.apiKeyId!);
    if (!key) throw notFound('API key');
    return key;
  }

  /** What the caller may hand out; a key's tenant permissions read fresh, in this transaction. */
  private async boundsOf(
    manager: EntityManager,
    actor: Principal,
    actingKey: ApiKey | null,
    tenant: Tenant,
  ): Promise<KeyBounds> {
    if (!actingKey) return boundsOfPerson(actor);
    const grants = new KeyGrantsRepository(manager);
    const held = {
      effectivePermissions: await grants.effectiveOf(actingKey.tenantId, actingKey.id),
      roles: (await grants.grantsOf(actingKey.tenantId, [actingKey.id])).get(actingKey.id)!.roles,
    };
    return boundsOfKey(actor.scopes, actingKey, tenant.defaultKeyRateLimit, held);
  }

  /** 403 unless the caller could have created a key with these terms. */
  private async assertCouldHaveCreated(
    manager: EntityManager,
    actor: Principal,
    key: ApiKey,
    grants: KeyGrants,
    lockedTenant?: Tenant,
  ): Promise<void> {
    const tenant = lockedTenant ?? (await manager.getRepository(Tenant).findOneByOrFail({ id: key.tenantId }));
    const actingKey = await this.actingKey(manager, actor);
    refuse(
      beyondBounds(
        termsOf(key, tenant.defaultKeyRateLimit, grants),
        await this.boundsOf(manager, actor, actingKey, tenant),
      ),
    );
  }

  /** The quota columns for a new or changed key (null: unlimited uses). */
  private quotaColumns(quota: QuotaDto | null): Pick<ApiKey, 'quotaRemaining' | 'quotaRefill' | 'quotaRefilledAt'> {
    if (!quota) return { quotaRemaining: null, quotaRefill: null, quotaRefilledAt: null };
    const refill = quota.refill ? { amount: quota.refill.amount, interval: quota.refill.interval } : null;
    return { quotaRemaining: quota.remaining, quotaRefill: refill, quotaRefilledAt: this.clock.now() };
  }

  /**
   * The one limit check every working key passes before it exists (create, rotate, through any
   * route). The caller holds the tenant's row lock, so concurrent creations count one by one.
   */
  private async assertRoom(keys: ApiKeysRepository, tenant: Tenant, ownerId: string | null, now: Date): Promise<void> {
    const reached = capReached(await keys.countHoldingPlace(tenant.id, ownerId, now), tenant);
    if (reached === 'TENANT_CAP')
      throw forbidden(
        'KEY_LIMIT_REACHED',
        `This tenant has reached its limit of ${tenant.maxKeysPerTenant} active keys`,
      );
    if (reached === 'USER_CAP') {
      throw forbidden(
        'KEY_LIMIT_REACHED',
        `This user has reached the limit of ${tenant.maxKeysPerUser} active keys (keys in their grace period count)`,
      );
    }
  }

  private async findVisible(keys: ApiKeysRepository, actor: Principal, id: string, lock = false): Promise<ApiKey> {
    const key = await keys.findVisible(actor.tenantId!, id, visibleOwner(actor), lock);
    if (!key) throw notFound('API key');
    return key;
  }
}
