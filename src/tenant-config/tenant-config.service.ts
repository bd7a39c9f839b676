import { HttpStatus, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Principal } from '../common/auth/principal';
import { SecretBox } from '../common/crypto/secret-box';
import { notFound } from '../common/http/errors';
import { AppException } from '../common/http/problem';
import { ConfigEntry } from './config-entry.entity';
import { CONFIG_KEY, ConfigEntryDto, PutConfigEntryDto } from './tenant-config.dto';

export const MASK = '********';

@Injectable()
export class TenantConfigService {
  private readonly box: SecretBox;

  constructor(
    private readonly dataSource: DataSource,
    config: AppConfig,
  ) {
    this.box = new SecretBox(config.configEncryptionKey);
  }

  /** The configuration a CLI fetches: one object; secrets only for principals with config:secrets. */
  async document(principal: Principal): Promise<{ body: Record<string, unknown>; etag: string }> {
    const withSecrets = principal.scopes.includes('config:secrets');
    const entries = await this.dataSource.getRepository(ConfigEntry).find({ where: { tenantId: principal.tenantId! }, order: { key: 'ASC' } });
    const body: Record<string, unknown> = {};
    for (const entry of entries) {
      if (entry.secret && !withSecrets) continue;
      body[entry.key] = this.valueOf(entry);
    }
    const etag = `"${createHash('sha256').update(JSON.stringify(body)).digest('base64url').slice(0, 32)}"`;
    return { body, etag };
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
    const entry = await this.dataSource.getRepository(ConfigEntry).save({
      tenantId,
      key,
      secret,
      value: secret ? null : (dto.value as object),
      encrypted: secret ? this.box.seal(JSON.stringify(dto.value), `${tenantId}/${key}`) : null,
      updatedBy: principal.userId ?? principal.apiKeyId ?? null,
    });
    return { key, value: secret ? MASK : dto.value, secret, updatedAt: entry.updatedAt };
  }

  async remove(tenantId: string, key: string): Promise<void> {
    this.assertKey(key);
    const result = await this.dataSource.getRepository(ConfigEntry).delete({ tenantId, key });
    if (!result.affected) throw notFound('Configuration entry');
  }

  private valueOf(entry: ConfigEntry): unknown {
    return entry.secret ? JSON.parse(this.box.open(entry.encrypted!, `${entry.tenantId}/${entry.key}`)) : entry.value;
  }

  private assertKey(key: string): void {
    if (!CONFIG_KEY.test(key)) throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', 'key must be 1-128 letters, digits, dots, dashes or underscores');
  }
}
