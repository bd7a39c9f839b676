import { HttpStatus, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app-config';
import { BoundedCache } from '../common/cache/bounded-cache';
import { Principal } from '../common/auth/principal';
import { SecretBox } from '../common/crypto/secret-box';
import type { ClientInfo } from '../common/http/client-info';
import { notFound } from '../common/http/errors';
import { AppException } from '../common/http/problem';
import { Invalidation, InvalidationBus } from '../invalidation/invalidation.bus';
import { StepUpService } from '../mfa/step-up.service';
import { ConfigEntry } from './config-entry.entity';
import { CONFIG_KEY, ConfigEntryDto, PutConfigEntryDto } from './dto/tenant-config.dto';
import { MaybePromise, then } from '../common/maybe-promise';

export const MASK = '********';

export interface ConfigDocument {
  /** Serialized once, when the document is built: GET /config sends these bytes as they are. */
  json: string;
  etag: string;
  /** Secret entries left out of this view (sent as a header, so the CLI can say so). */
  omittedSecrets: number;
}

/** Both views of a tenant's configuration, ready to serve. */
interface CachedDocuments {
  withSecrets: ConfigDocument;
  withoutSecrets: ConfigDocument;
}

const withSecrets = (documents: CachedDocuments) => documents.withSecrets;
const withoutSecrets = (documents: CachedDocuments) => documents.withoutSecrets;

@Injectable()
export class TenantConfigService {
  private readonly box: SecretBox;
  /**
   * GET /config is read far more often than configuration changes, so each tenant's document
   * is built once and kept until a change (here or, through NOTIFY, on another instance):
   * a promise while it is being built, the documents themselves once built.
   */
  private readonly documents = new BoundedCache<CachedDocuments | Promise<CachedDocuments>>(10_000);

  /** A document lives no longer than a cached key: a change NOTIFY that never arrived cannot keep it stale. */
  private readonly ttlMs: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly invalidations: InvalidationBus,
    config: AppConfig,
    private readonly audit: AuditService,
    private readonly stepUp: StepUpService,
  ) {
    this.box = new SecretBox(config.configEncryptionKey);
    // The key cache may be off (0) to measure or debug key lookups; documents still live their minute.
    this.ttlMs = (config.keyCacheTtlSeconds || 60) * 1000;
    invalidations.subscribe((change) => this.invalidate(change));
  }

  private invalidate(change: Invalidation | { kind: 'all' }): void {
    if (change.kind === 'all') this.documents.clear();
    else if (change.kind === 'config' || change.kind === 'tenant') this.documents.invalidate(change.tenantId);
  }

  /**
   * The configuration a CLI fetches: one object; secrets only for principals with config:secrets.
   * Synchronous once the tenant's document is built, so a cached read costs no promise.
   */
  document(principal: Principal): MaybePromise<ConfigDocument> {
    const tenantId = principal.tenantId!;
    const now = Date.now();
    let cached = this.documents.get(tenantId, now);
    if (!cached) {
      // Counted from before the read: the rows read may be that old. A lifetime of 0 caches nothing.
      const until = now + this.invalidations.cacheTtl(this.ttlMs);
      const building = this.build(tenantId);
      cached = building;
      this.documents.set(tenantId, building, until, this.documents.epoch);
      // Stored (in place of the promise) unless a change dropped the promise meanwhile: the
      // documents may then already be stale. Another tenant's change does not stop it.
      const stillBuilding = () => this.documents.get(tenantId, now) === building;
      building.then(
        (built) =>
          stillBuilding() &&
          (until > now
            ? this.documents.set(tenantId, built, until, this.documents.epoch)
            : this.documents.invalidate(tenantId)),
        () => stillBuilding() && this.documents.invalidate(tenantId),
      );
    }
    return then(cached, principal.scopes.includes('config:secrets') ? withSecrets : withoutSecrets);
  }

  private async build(tenantId: string): Promise<CachedDocuments> {
    const entries = await this.dataSource
      .getRepository(ConfigEntry)
      .find({ where: { tenantId }, order: { key: 'ASC' } });
    const withSecrets: Record<string, unknown> = {};
    const withoutSecrets: Record<string, unknown> = {};
    for (const entry of entries) {
      const value = this.valueOf(entry);
      withSecrets[entry.key] = value;
      if (!entry.secret) withoutSecrets[entry.key] = value;
    }
    const serve = (body: object, omittedSecrets: number): ConfigDocument => {
      const json = JSON.stringify(body);
      return { json, etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 32)}"`, omittedSecrets };
    };
    const secrets = entries.filter((entry) => entry.secret).length;
    return { withSecrets: serve(withSecrets, 0), withoutSecrets: serve(withoutSecrets, secrets) };
  }

  /** Listing for people and tools: secret values masked. */
  async list(tenantId: string): Promise<ConfigEntryDto[]> {
    const entries = await this.dataSource
      .getRepository(ConfigEntry)
      .find({ where: { tenantId }, order: { key: 'ASC' } });
    return entries.map((entry) => ({
      key: entry.key,
      value: entry.secret ? MASK : entry.value,
      secret: entry.secret,
      updatedAt: entry.updatedAt,
    }));
  }

  async put(
    principal: Principal,
    key: string,
    dto: PutConfigEntryDto,
    client: ClientInfo = {},
  ): Promise<ConfigEntryDto> {
    this.assertKey(key);
    const tenantId = principal.tenantId!;
    const secret = dto.secret ?? false;
    const entry = await this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(ConfigEntry);
      await assertMayTouchSecret(principal, manager, tenantId, key);
      // One INSERT ... ON CONFLICT: two first writes of a key at once must not collide.
      await repository.upsert(
        {
          tenantId,
          key,
          secret,
          // SQL NULL for a secret (its value lives in `encrypted`); upsert's types know no null jsonb.
          value: (secret ? null : dto.value) as object,
          encrypted: secret ? this.box.seal(JSON.stringify(dto.value), `${tenantId}/${key}`) : null,
          updatedBy: principal.userId ?? principal.apiKeyId ?? null,
          updatedAt: () => 'now()',
        },
        { conflictPaths: ['tenantId', 'key'] },
      );
      const saved = await repository.findOneByOrFail({ tenantId, key });
      // Never the value: it may be a secret, and even a plain one is not the audit trail's business.
      await this.audit.record(manager, {
        tenantId,
        actor: actorOf(principal),
        action: 'config.changed',
        target: { type: 'config_entry', id: key },
        client,
        metadata: { operation: 'set', secret },
      });
      return saved;
    });
    await this.invalidations.publish({ kind: 'config', tenantId });
    return { key, value: secret ? MASK : dto.value, secret, updatedAt: entry.updatedAt };
  }

  async remove(principal: Principal, key: string, client: ClientInfo = {}): Promise<void> {
    this.assertKey(key);
    const tenantId = principal.tenantId!;
    await this.dataSource.transaction(async (manager) => {
      await assertMayTouchSecret(principal, manager, tenantId, key);
      const result = await manager.getRepository(ConfigEntry).delete({ tenantId, key });
      if (!result.affected) throw notFound('Configuration entry');
      await this.audit.record(manager, {
        tenantId,
        actor: actorOf(principal),
        action: 'config.changed',
        target: { type: 'config_entry', id: key },
        client,
        metadata: { operation: 'delete' },
      });
    });
    await this.invalidations.publish({ kind: 'config', tenantId });
  }

  /**
   * One secret's value, for a person who asked to see it. The reveal is audited in the same
   * transaction as the read (the key, never the value), so no value is shown unrecorded.
   */
  async revealSecret(principal: Principal, key: string, client: ClientInfo = {}): Promise<unknown> {
    this.assertKey(key);
    const tenantId = principal.tenantId!;
    return this.dataSource.transaction(async (manager) => {
      const entry = await manager.getRepository(ConfigEntry).findOneBy({ tenantId, key, secret: true });
      if (!entry) throw notFound('Secret configuration entry');
      await this.stepUp.assertFresh(principal, manager);
      await this.audit.record(manager, {
        tenantId,
        actor: actorOf(principal),
        action: 'config.secret_revealed',
        target: { type: 'config_entry', id: key },
        client,
      });
      return this.valueOf(entry);
    });
  }

  private valueOf(entry: ConfigEntry): unknown {
    return entry.secret ? JSON.parse(this.box.open(entry.encrypted!, `${entry.tenantId}/${entry.key}`)) : entry.value;
  }

  private assertKey(key: string): void {
    if (!CONFIG_KEY.test(key))
      throw new AppException(
        HttpStatus.BAD_REQUEST,
        'VALIDATION_FAILED',
        'key must be 1-128 letters, digits, dots, dashes or underscores',
      );
  }
}

/**
 * A secret entry is changed, turned plain or deleted only with `config:secrets`: `config:write`
 * alone could otherwise replace a secret with a value of its choosing, or expose where it was
 * read by overwriting it as plain text. The row is locked until the write commits.
 */
async function assertMayTouchSecret(
  principal: Principal,
  manager: EntityManager,
  tenantId: string,
  key: string,
): Promise<void> {
  if (principal.scopes.includes('config:secrets')) return;
  const [existing]: { secret: boolean }[] = await manager.query(
    'SELECT secret FROM config_entries WHERE tenant_id = $1 AND key = $2 FOR UPDATE',
    [tenantId, key],
  );
  if (existing?.secret) {
    throw new AppException(
      HttpStatus.FORBIDDEN,
      'CONFIG_SECRETS_REQUIRED',
      'This entry is secret: changing or deleting it needs the config:secrets scope',
    );
  }
}
