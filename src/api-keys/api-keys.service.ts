import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, EntityManager, FindOptionsWhere, In, IsNull } from 'typeorm';
import { actorOf, SYSTEM_ACTOR } from '../audit/audit.dto';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock';
import { MailService } from '../mail/mail.service';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { Principal } from '../common/auth/principal';
import { ROLE_SCOPES, SCOPES } from '../common/auth/scopes';
import { notFound } from '../common/http/errors';
import { Page } from '../common/http/pagination';
import { AppException } from '../common/http/problem';
import { Tenant } from '../tenants/tenant.entity';
import { User } from '../users/user.entity';
import { ApiKey } from './api-key.entity';
import { ApiKeyVerifier } from './api-key-verifier.service';
import { allowlistWithin } from './ip-allowlist';
import { AdminCreateApiKeyDto, ApiKeyDto, CreateTenantApiKeyDto, QuotaDto, ReportLeakDto, ListApiKeysQuery, RotateApiKeyDto, toApiKeyDto, UpdateApiKeyDto } from './api-keys.dto';
import { InvalidationBus } from '../invalidation/invalidation.bus';

const DAY_MS = 86_400_000;
const DEFAULT_GRACE_SECONDS = 86_400;

export type CreatedApiKey = ApiKeyDto & { apiKey: string };

const forbidden = (code: string, message: string) => new AppException(HttpStatus.FORBIDDEN, code, message);

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly verifier: ApiKeyVerifier,
    private readonly invalidations: InvalidationBus,
    private readonly mail: MailService,
    private readonly limits: RateLimitService,
    private readonly audit: AuditService,
  ) {}

  /**
   * Anyone may report a key they found in public. A valid key is revoked at once and its owner
   * and the tenant's owners and admins are told by mail. The answer is the same either way, so
   * the report cannot be used to test keys; 5 reports a minute per address.
   */
  async reportLeak(dto: ReportLeakDto, ip: string): Promise<{ status: 'received' }> {
    const limit = await this.limits.consume(`leak:${ip}`, 5, 60);
    if (!limit.allowed) throw new AppException(HttpStatus.TOO_MANY_REQUESTS, 'RATE_LIMITED', 'Too many reports; retry later', { retryAfterSeconds: limit.resetSeconds });
    const format = this.verifier.format;
    if (format.hasShape(dto.key) && format.checksumMatches(dto.key)) {
      const rows = await this.dataSource.transaction(async (manager) => {
        const [revoked]: [ApiKey[], number] = await manager.query(
          'UPDATE api_keys SET revoked_at = $2 WHERE key_hash = $1 AND revoked_at IS NULL RETURNING id, tenant_id AS "tenantId", user_id AS "userId", name, hint',
          [format.hash(dto.key), this.clock.now()],
        );
        for (const key of revoked) {
          await this.audit.record(manager, { tenantId: key.tenantId, actor: SYSTEM_ACTOR, action: 'key.revoked', target: { type: 'api_key', id: key.id }, reason: 'LEAK_REPORTED', metadata: dto.source ? { source: dto.source } : {} });
        }
        return revoked;
      });
      for (const key of rows) {
        await this.invalidations.publish({ kind: 'key', keyId: key.id });
        await this.tellOfLeak(key, dto.source);
      }
    }
    return { status: 'received' };
  }

  private async tellOfLeak(key: Pick<ApiKey, 'id' | 'tenantId' | 'userId' | 'name' | 'hint'>, source?: string): Promise<void> {
    const users = await this.dataSource.getRepository(User).find({
      where: [
        { tenantId: key.tenantId, status: 'active', role: In(['owner', 'admin']) },
        ...(key.userId ? [{ tenantId: key.tenantId, id: key.userId, status: 'active' as const }] : []),
      ],
    });
    const text = [
      `The API key "${key.name}" (${key.hint}) was reported as leaked${source ? ` at: ${source}` : ''}.`,
      'It has been revoked and no longer works. Create a new key where it was used.',
    ].join('\n\n');
    for (const email of new Set(users.map((user) => user.email))) this.mail.sendInBackground({ to: email, subject: 'An API key was reported as leaked and has been revoked', text });
  }

  /** The operator makes a key for a tenant (its first one, typically). */
  adminCreate(dto: AdminCreateApiKeyDto): Promise<CreatedApiKey> {
    return this.create({ kind: 'admin', tenantId: dto.tenantId, scopes: [...SCOPES] }, { ...dto, userId: dto.userId ?? null });
  }

  /**
   * A user or key makes a key in its own tenant. What it may give is capped by what it has:
   * a key passes on at most its own scopes, expiry, quota and addresses; a user at most what
   * the role allows.
   */
  async create(actor: Principal, dto: CreateTenantApiKeyDto): Promise<CreatedApiKey> {
    const tenantId = actor.tenantId!;
    const ownerId = this.ownerFor(actor, dto);
    return this.dataSource.transaction(async (manager) => {
      // Locking the tenant row serialises creations, so the key limits hold under concurrency.
      const tenant = await manager.getRepository(Tenant).findOne({ where: { id: tenantId }, lock: { mode: 'pessimistic_write' } });
      if (!tenant) throw notFound('Tenant');
      const owner = ownerId ? await manager.getRepository(User).findOneBy({ id: ownerId, tenantId }) : null;
      if (ownerId && (!owner || owner.status !== 'active')) throw notFound('User');

      const grantable = this.grantableScopes(actor, owner);
      const scopes = dto.scopes ?? tenant.defaultKeyScopes.filter((scope) => grantable.includes(scope));
      const beyond = scopes.filter((scope) => !grantable.includes(scope));
      if (beyond.length) throw forbidden('SCOPE_NOT_ALLOWED', `You may not grant: ${beyond.join(' ')}`);
      const creator = await this.actingKey(manager, actor);
      const expiresAt = this.expiryFor(creator, tenant, dto);
      await this.assertWithinLimits(manager, tenant, ownerId);
      const quota = this.quotaFor(creator, dto.quota ?? null);

      const created = await this.insertKey(manager, {
        tenantId,
        userId: ownerId,
        createdByUserId: actor.kind === 'user' ? actor.userId! : null,
        createdByKeyId: actor.kind === 'apiKey' ? actor.apiKeyId! : null,
        name: dto.name ?? 'API key',
        scopes,
        expiresAt,
        rateLimit: dto.rateLimit ? { limit: dto.rateLimit.limit, windowSeconds: dto.rateLimit.windowSeconds } : null,
        ...quota,
        ipAllowlist: this.allowlistFor(creator, dto.ipAllowlist),
        metadata: dto.metadata ?? {},
      });
      await this.audit.record(manager, { tenantId, actor: actorOf(actor), action: 'key.created', target: { type: 'api_key', id: created.id }, metadata: { name: created.name, scopes, ownerId, expiresAt } });
      return created;
    });
  }

  async list(actor: Principal, query: ListApiKeysQuery, onlyOwn = false): Promise<Page<ApiKeyDto>> {
    const now = this.clock.now();
    const qb = this.dataSource.getRepository(ApiKey).createQueryBuilder('k').where('k.tenant_id = :tenantId', { tenantId: actor.tenantId });
    const ownerScope = onlyOwn ? (actor.userId ?? null) : this.visibleOwner(actor);
    if (ownerScope === null) qb.andWhere('k.user_id IS NULL');
    else if (ownerScope !== undefined) qb.andWhere('k.user_id = :self', { self: ownerScope });
    if (query.owner === 'service') qb.andWhere('k.user_id IS NULL');
    else if (query.owner) {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(query.owner)) throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', "owner must be a user id or 'service'");
      qb.andWhere('k.user_id = :owner', { owner: query.owner });
    }
    const nowParam = { now };
    if (query.status === 'revoked') qb.andWhere('(k.revoked_at IS NOT NULL OR k.grace_until <= :now)', nowParam);
    else if (query.status === 'expired') qb.andWhere('k.revoked_at IS NULL AND (k.grace_until IS NULL OR k.grace_until > :now) AND k.expires_at <= :now', nowParam);
    else if (query.status) {
      qb.andWhere('k.revoked_at IS NULL AND (k.grace_until IS NULL OR k.grace_until > :now) AND (k.expires_at IS NULL OR k.expires_at > :now)', nowParam);
      qb.andWhere(query.status === 'disabled' ? 'k.disabled_at IS NOT NULL' : 'k.disabled_at IS NULL');
    }
    const [rows, total] = await qb
      .orderBy('k.created_at', 'DESC')
      .addOrderBy('k.id', 'ASC')
      .skip((query.page - 1) * query.limit)
      .take(query.limit)
      .getManyAndCount();
    return { items: rows.map((row) => toApiKeyDto(row, now)), page: query.page, limit: query.limit, total };
  }

  async get(actor: Principal, id: string): Promise<ApiKeyDto> {
    return toApiKeyDto(await this.findVisible(this.dataSource.manager, actor, id), this.clock.now());
  }

  async update(actor: Principal, id: string, dto: UpdateApiKeyDto): Promise<ApiKeyDto> {
    const now = this.clock.now();
    const saved = await this.dataSource.transaction(async (manager) => {
      const key = await this.findVisible(manager, actor, id, true);
      if (key.revokedAt) throw new AppException(HttpStatus.CONFLICT, 'KEY_REVOKED', 'A revoked key cannot be changed');
      const wasDisabled = key.disabledAt !== null;
      if (dto.scopes) {
        const widened = dto.scopes.filter((scope) => !key.scopes.includes(scope));
        if (widened.length) throw forbidden('SCOPE_NOT_ALLOWED', `Scopes can only be narrowed; not allowed: ${widened.join(' ')}`);
        key.scopes = dto.scopes;
      }
      if (dto.expiresAt !== undefined) {
        const expiresAt = new Date(dto.expiresAt);
        if (expiresAt <= now) throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', 'expiresAt must be in the future');
        if (key.expiresAt && expiresAt > key.expiresAt) throw forbidden('EXPIRY_NOT_ALLOWED', 'Expiry can only be made earlier');
        key.expiresAt = expiresAt;
      }
      if (dto.disabled !== undefined) key.disabledAt = dto.disabled ? (key.disabledAt ?? now) : null;
      if (dto.name !== undefined) key.name = dto.name;
      if (dto.metadata !== undefined) key.metadata = dto.metadata;
      if (dto.rateLimit !== undefined) key.rateLimit = { limit: dto.rateLimit.limit, windowSeconds: dto.rateLimit.windowSeconds };
      if (dto.ipAllowlist !== undefined || dto.quota !== undefined) {
        const changer = await this.actingKey(manager, actor);
        if (dto.ipAllowlist !== undefined) key.ipAllowlist = this.allowlistFor(changer, dto.ipAllowlist);
        if (dto.quota !== undefined) Object.assign(key, this.quotaFor(changer, dto.quota));
      }
      const result = await manager.getRepository(ApiKey).save(key);
      const record = (action: string, metadata: Record<string, unknown> = {}) => this.audit.record(manager, { tenantId: key.tenantId, actor: actorOf(actor), action, target: { type: 'api_key', id: key.id }, metadata });
      if (dto.disabled !== undefined && dto.disabled !== wasDisabled) await record(dto.disabled ? 'key.disabled' : 'key.enabled');
      // Names of what changed; the values (metadata, allowlists) stay in the key's own record.
      const fields = Object.keys(dto).filter((field) => field !== 'disabled' && dto[field as keyof UpdateApiKeyDto] !== undefined);
      if (fields.length) await record('key.updated', { fields });
      return result;
    });
    await this.invalidations.publish({ kind: 'key', keyId: id });
    return toApiKeyDto(saved, now);
  }

  /** Revokes at once and for good. Revoking an already revoked key is a no-op. */
  async revoke(actor: Principal, id: string): Promise<void> {
    const key = await this.dataSource.transaction(async (manager) => {
      const key = await this.findVisible(manager, actor, id);
      const result = await manager.getRepository(ApiKey).update({ id: key.id, tenantId: key.tenantId, revokedAt: IsNull() }, { revokedAt: this.clock.now() });
      if (result.affected) await this.audit.record(manager, { tenantId: key.tenantId, actor: actorOf(actor), action: 'key.revoked', target: { type: 'api_key', id: key.id } });
      return key;
    });
    await this.invalidations.publish({ kind: 'key', keyId: key.id });
  }

  /** Revokes one of the caller's own keys, named by its full value or its id. */
  async revokeOwn(actor: Principal, keyOrId: string): Promise<void> {
    const where: FindOptionsWhere<ApiKey> = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(keyOrId)
      ? { id: keyOrId }
      : { keyHash: this.verifier.format.hash(keyOrId) };
    const key = await this.dataSource.getRepository(ApiKey).findOneBy({ ...where, tenantId: actor.tenantId!, userId: actor.userId ?? IsNull() });
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
    const page = await this.list(actor, Object.assign(new ListApiKeysQuery(), { status: 'active', page: 1, limit: 100 }), true);
    return page.items;
  }

  /**
   * A new key with the same name, scopes, owner, limits and metadata. The old one keeps
   * working for the grace period (never past its own expiry), then counts as revoked.
   */
  async rotate(actor: Principal, id: string, dto: RotateApiKeyDto): Promise<CreatedApiKey> {
    const now = this.clock.now();
    const created = await this.dataSource.transaction(async (manager) => {
      const old = await this.findVisible(manager, actor, id, true);
      // A key already rotated away is on its way out: rotating it again would extend its grace.
      if (old.revokedAt || old.graceUntil || (old.expiresAt && old.expiresAt <= now)) {
        throw new AppException(HttpStatus.CONFLICT, 'KEY_NOT_ACTIVE', 'Only an active key can be rotated');
      }
      // Rotating hands out a new key: a key may do that only within its own scopes, expiry and addresses.
      const rotator = await this.actingKey(manager, actor);
      if (rotator) {
        const beyond = old.scopes.filter((scope) => !actor.scopes.includes(scope));
        if (beyond.length) throw forbidden('SCOPE_NOT_ALLOWED', `You may not grant: ${beyond.join(' ')}`);
        if (rotator.expiresAt && (!old.expiresAt || old.expiresAt > rotator.expiresAt)) throw forbidden('EXPIRY_NOT_ALLOWED', 'A key cannot create a key that outlives it');
        if (!allowlistWithin(old.ipAllowlist, rotator.ipAllowlist)) throw forbidden('IP_ALLOWLIST_NOT_ALLOWED', 'A key cannot rotate a key usable from addresses it may not use');
      }
      const graceMs = (dto.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
      const graceUntil = new Date(Math.min(now.getTime() + graceMs, old.expiresAt?.getTime() ?? Infinity));
      await manager.getRepository(ApiKey).update({ id: old.id, tenantId: old.tenantId }, graceMs === 0 ? { revokedAt: now } : { graceUntil });
      const created = await this.insertKey(manager, {
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
      await this.audit.record(manager, { tenantId: old.tenantId, actor: actorOf(actor), action: 'key.rotated', target: { type: 'api_key', id: old.id }, metadata: { newKeyId: created.id, oldKeyEndsAt: graceMs === 0 ? now : graceUntil } });
      return created;
    });
    await this.invalidations.publish({ kind: 'key', keyId: id });
    return created;
  }

  private async insertKey(manager: EntityManager, values: Partial<ApiKey>): Promise<CreatedApiKey> {
    const apiKey = this.verifier.format.generate();
    const saved = await manager.getRepository(ApiKey).save(manager.getRepository(ApiKey).create({ ...values, keyHash: this.verifier.format.hash(apiKey), hint: this.verifier.format.hint(apiKey) }));
    return { apiKey, ...toApiKeyDto(saved, this.clock.now()) };
  }

  /** Whose key a new key is: the caller's own unless an owner/admin (or the operator) says otherwise. */
  private ownerFor(actor: Principal, dto: CreateTenantApiKeyDto): string | null {
    if (actor.kind === 'admin') return dto.userId ?? null;
    if (actor.kind === 'apiKey') {
      const asked = dto.service ? null : dto.userId === undefined ? (actor.userId ?? null) : dto.userId;
      if (asked !== (actor.userId ?? null)) throw forbidden('FORBIDDEN', 'A key can only create keys for its own owner');
      return asked;
    }
    const asked = dto.service ? null : dto.userId === undefined ? actor.userId! : dto.userId;
    if (asked !== actor.userId && actor.role !== 'owner' && actor.role !== 'admin') {
      throw forbidden('FORBIDDEN', 'Only owners and admins can create keys for others or service keys');
    }
    return asked;
  }

  /** The scopes this caller may put on a key of its own (what a create form offers). */
  grantableScopesFor(actor: Principal): string[] {
    return this.grantableScopes(actor, null);
  }

  private grantableScopes(actor: Principal, owner: User | null): string[] {
    const byCreator = actor.kind === 'admin' ? [...SCOPES] : actor.kind === 'apiKey' ? actor.scopes : ROLE_SCOPES[actor.role!];
    // A user's key never carries more than the user's own role allows.
    return owner ? byCreator.filter((scope) => (ROLE_SCOPES[owner.role] as string[]).includes(scope)) : byCreator;
  }

  /** The key a request is made with, when it is made with one: what it hands out is bounded by it. */
  private async actingKey(manager: EntityManager, actor: Principal): Promise<ApiKey | null> {
    return actor.kind === 'apiKey' ? manager.getRepository(ApiKey).findOneByOrFail({ id: actor.apiKeyId!, tenantId: actor.tenantId! }) : null;
  }

  private expiryFor(creator: ApiKey | null, tenant: Tenant, dto: CreateTenantApiKeyDto): Date | null {
    const now = this.clock.now().getTime();
    if (dto.expiresAt !== undefined && dto.expiresInDays !== undefined) throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', 'Give expiresAt or expiresInDays, not both');
    let expiresAt = dto.expiresAt !== undefined ? new Date(dto.expiresAt) : dto.expiresInDays !== undefined ? new Date(now + dto.expiresInDays * DAY_MS) : null;
    if (expiresAt && expiresAt.getTime() <= now) throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', 'expiresAt must be in the future');
    if (creator?.expiresAt) {
      if (expiresAt && expiresAt > creator.expiresAt) throw forbidden('EXPIRY_NOT_ALLOWED', 'A key cannot create a key that outlives it');
      expiresAt ??= creator.expiresAt;
    }
    if (tenant.maxKeyLifetimeDays) {
      const latest = new Date(now + tenant.maxKeyLifetimeDays * DAY_MS);
      if (expiresAt && expiresAt > latest) throw forbidden('EXPIRY_NOT_ALLOWED', `Keys of this tenant live at most ${tenant.maxKeyLifetimeDays} days`);
      expiresAt ??= latest;
    }
    return expiresAt;
  }

  /**
   * The quota columns for a new or changed key. A key that has a quota may hand out only a
   * smaller one (never unlimited uses), so a limited key cannot mint its way past its limit.
   */
  private quotaFor(creator: ApiKey | null, quota: QuotaDto | null): Pick<ApiKey, 'quotaRemaining' | 'quotaRefill' | 'quotaRefilledAt'> {
    if (creator && creator.quotaRemaining !== null) {
      const beyond =
        !quota || quota.remaining > creator.quotaRemaining || (quota.refill && (!creator.quotaRefill || quota.refill.amount > creator.quotaRefill.amount || (quota.refill.interval === 'day' && creator.quotaRefill.interval === 'month')));
      if (beyond) throw forbidden('QUOTA_NOT_ALLOWED', 'A key with a quota can only give a smaller quota');
    }
    if (!quota) return { quotaRemaining: null, quotaRefill: null, quotaRefilledAt: null };
    return { quotaRemaining: quota.remaining, quotaRefill: quota.refill ? { amount: quota.refill.amount, interval: quota.refill.interval } : null, quotaRefilledAt: this.clock.now() };
  }

  /**
   * The IP allowlist for a new or changed key (an empty list: any address). A key confined to
   * some addresses passes that on: what it creates or changes stays within its own allowlist,
   * which a key it creates gets by default, so no key can mint its way out of its network.
   */
  private allowlistFor(creator: ApiKey | null, asked: string[] | undefined): string[] | null {
    const allowlist = asked === undefined ? (creator?.ipAllowlist ?? null) : asked.length ? asked : null;
    if (creator && !allowlistWithin(allowlist, creator.ipAllowlist)) throw forbidden('IP_ALLOWLIST_NOT_ALLOWED', 'A key can only give addresses within its own IP allowlist');
    return allowlist;
  }

  private async assertWithinLimits(manager: EntityManager, tenant: Tenant, ownerId: string | null): Promise<void> {
    const active = 'tenant_id = $1 AND revoked_at IS NULL AND (grace_until IS NULL OR grace_until > $2) AND (expires_at IS NULL OR expires_at > $2)';
    const now = this.clock.now();
    const [{ count: tenantCount }] = await manager.query(`SELECT count(*)::int AS count FROM api_keys WHERE ${active}`, [tenant.id, now]);
    if (tenantCount >= tenant.maxKeysPerTenant) throw forbidden('KEY_LIMIT_REACHED', `This tenant has reached its limit of ${tenant.maxKeysPerTenant} active keys`);
    if (ownerId) {
      const [{ count: userCount }] = await manager.query(`SELECT count(*)::int AS count FROM api_keys WHERE ${active} AND user_id = $3`, [tenant.id, now, ownerId]);
      if (userCount >= tenant.maxKeysPerUser) throw forbidden('KEY_LIMIT_REACHED', `This user has reached the limit of ${tenant.maxKeysPerUser} active keys`);
    }
  }

  /** undefined: every key of the tenant; otherwise only keys of this owner (null = service keys). */
  private visibleOwner(actor: Principal): string | null | undefined {
    if (actor.kind === 'apiKey') return actor.userId ?? undefined;
    if (actor.kind === 'user' && actor.role !== 'owner' && actor.role !== 'admin') return actor.userId!;
    return undefined;
  }

  private async findVisible(manager: EntityManager, actor: Principal, id: string, lock = false): Promise<ApiKey> {
    const owner = this.visibleOwner(actor);
    const key = await manager.getRepository(ApiKey).findOne({
      where: { id, tenantId: actor.tenantId!, ...(owner !== undefined ? { userId: owner ?? IsNull() } : {}) },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!key) throw notFound('API key');
    return key;
  }
}
