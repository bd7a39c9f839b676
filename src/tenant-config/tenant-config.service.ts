import { HttpStatus, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { KeyEventsService } from '../api-keys/key-events.service';
import { actorOf } from '../audit/audit.dto';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app-config';
import { Principal } from '../common/auth/principal';
import { SecretBox } from '../common/crypto/secret-box';
import { notFound } from '../common/http/errors';
import { AppException } from '../common/http/problem';
import { ConfigEntry } from './config-entry.entity';
import { CONFIG_KEY, ConfigEntryDto, PutConfigEntryDto } from './tenant-config.dto';

export const MASK = '********';

export interface ConfigDocument {
  /** Serialized once, when the document is built: GET /config sends these bytes as they are. */
  json: string;
  etag: string;
}

/** Both views of a tenant's configuration, ready to serve. */
interface CachedDocuments {
  withSecrets: ConfigDocument;
  withoutSecrets: ConfigDocument;
  /** Epoch ms: a change NOTIFY that never arrived cannot keep a document stale past this. */
  expiresAt: number;
}

@Injectable()
export class TenantConfigService {
  private readonly box: SecretBox;
  /**
   * GET /config is read far more often than configuration changes, so each tenant's document
   * is built once and kept until a change (here or, through NOTIFY, on another instance) or
   * until it is as old as a cached key may be: a promise while it is being built, the
   * documents themselves once built.
   */
  private readonly documents = new Map<string, CachedDocuments | Promise<CachedDocuments>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: KeyEventsService,
    config: AppConfig,
    private readonly audit: AuditService,
  ) {
    this.box = new SecretBox(config.configEncryptionKey);
    events.onChange((change) => {
      if (change === 'all') this.documents.clear();
      else if ('configOf' in change) this.documents.delete(change.configOf);
      else if ('tenantId' in change) this.documents.delete(change.tenantId);
    });
  }

  /**
   * The configuration a CLI fetches: one object; secrets only for principals with config:secrets.
   * Synchronous once the tenant's document is built, so a cached read costs no promise.
   */
  document(principal: Principal): ConfigDocument | Promise<ConfigDocument> {
    const tenantId = principal.tenantId!;
    let cached = this.documents.get(tenantId);
    if (cached && !(cached instanceof Promise) && cached.expiresAt <= Date.now()) cached = undefined;
    if (!cached) {
      const building = this.build(tenantId);
      cached = building;
      this.documents.set(tenantId, building);
      building.then(
        // Unless a change dropped it meanwhile: then it may already be stale. A lifetime of 0 caches nothing.
        (built) => this.documents.get(tenantId) === building && (this.events.cacheTtlMs > 0 ? this.documents.set(tenantId, built) : this.documents.delete(tenantId)),
        () => this.documents.get(tenantId) === building && this.documents.delete(tenantId),
      );
      if (this.documents.size > 10_000) this.documents.delete(this.documents.keys().next().value!);
    }
    const withSecrets = principal.scopes.includes('config:secrets');
    const pick = (documents: CachedDocuments) => (withSecrets ? documents.withSecrets : documents.withoutSecrets);
    return cached instanceof Promise ? cached.then(pick) : pick(cached);
  }

  private async build(tenantId: string): Promise<CachedDocuments> {
    // Counted from before the read: the rows read may be that old.
    const expiresAt = Date.now() + this.events.cacheTtlMs;
    const entries = await this.dataSource.getRepository(ConfigEntry).find({ where: { tenantId }, order: { key: 'ASC' } });
    const withSecrets: Record<string, unknown> = {};
    const withoutSecrets: Record<string, unknown> = {};
    for (const entry of entries) {
      const value = this.valueOf(entry);
      withSecrets[entry.key] = value;
      if (!entry.secret) withoutSecrets[entry.key] = value;
    }
    const serve = (body: object): ConfigDocument => {
      const json = JSON.stringify(body);
      return { json, etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 32)}"` };
    };
    return { withSecrets: serve(withSecrets), withoutSecrets: serve(withoutSecrets), expiresAt };
  }

  /** Listing for people and tools: secret values masked. */
  async list(tenantId: string): Promise<ConfigEntryDto[]> {
    const entries = await this.dataSource.getRepository(ConfigEntry).find({ where: { tenantId }, order: { key: 'ASC' } });
    return entries.map((entry) => ({ key: entry.key, value: entry.secret ? MASK : entry.value, secret: entry.secret, updatedAt: entry.updatedAt }));
  }

  async put(principal: Principal, key: string, dto: PutConfigEntryDto): Promise<ConfigEntryDto> {
    this.assertKey(key);
    const tenantId = principal.tenantId!;
    const secret = dto.secret ?? false;
    const entry = await this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(ConfigEntry);
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
      await this.audit.record(manager, { tenantId, actor: actorOf(principal), action: 'config.changed', target: { type: 'config_entry', id: key }, metadata: { operation: 'set', secret } });
      return saved;
    });
    await this.events.publish({ configOf: tenantId });
    return { key, value: secret ? MASK : dto.value, secret, updatedAt: entry.updatedAt };
  }

  async remove(principal: Principal, key: string): Promise<void> {
    this.assertKey(key);
    const tenantId = principal.tenantId!;
    await this.dataSource.transaction(async (manager) => {
      const result = await manager.getRepository(ConfigEntry).delete({ tenantId, key });
      if (!result.affected) throw notFound('Configuration entry');
      await this.audit.record(manager, { tenantId, actor: actorOf(principal), action: 'config.changed', target: { type: 'config_entry', id: key }, metadata: { operation: 'delete' } });
    });
    await this.events.publish({ configOf: tenantId });
  }

  /**
   * One secret's value, for a person who asked to see it. The reveal is audited in the same
   * transaction as the read (the key, never the value), so no value is shown unrecorded.
   */
  async revealSecret(principal: Principal, key: string): Promise<unknown> {
    this.assertKey(key);
    const tenantId = principal.tenantId!;
    return this.dataSource.transaction(async (manager) => {
      const entry = await manager.getRepository(ConfigEntry).findOneBy({ tenantId, key, secret: true });
      if (!entry) throw notFound('Secret configuration entry');
      await this.audit.record(manager, { tenantId, actor: actorOf(principal), action: 'config.secret_revealed', target: { type: 'config_entry', id: key } });
      return this.valueOf(entry);
    });
  }

  private valueOf(entry: ConfigEntry): unknown {
    return entry.secret ? JSON.parse(this.box.open(entry.encrypted!, `${entry.tenantId}/${entry.key}`)) : entry.value;
  }

  private assertKey(key: string): void {
    if (!CONFIG_KEY.test(key)) throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', 'key must be 1-128 letters, digits, dots, dashes or underscores');
  }
}
