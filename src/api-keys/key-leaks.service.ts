import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { SYSTEM_ACTOR } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock';
import { AppException } from '../common/http/problem';
import { MailService } from '../mail/mail.service';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { User } from '../users/user.entity';
import { ApiKey } from './api-key.entity';
import { ApiKeyVerifier } from './api-key-verifier.service';
import { ReportLeakDto } from './dto/api-keys.dto';
import { ApiKeysRepository } from './api-keys.repository';
import { InvalidationBus } from '../invalidation/invalidation.bus';

/** Keys found in public: revoked at once, and the people who should know are told. */
@Injectable()
export class KeyLeaksService {
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
    if (!limit.allowed) {
      throw new AppException(HttpStatus.TOO_MANY_REQUESTS, 'RATE_LIMITED', 'Too many reports; retry later', {
        retryAfterSeconds: limit.resetSeconds,
      });
    }
    const format = this.verifier.format;
    if (format.hasShape(dto.key) && format.checksumMatches(dto.key)) {
      const rows = await this.dataSource.transaction(async (manager) => {
        const revoked = await new ApiKeysRepository(manager).revokeByHash(format.hash(dto.key), this.clock.now());
        for (const key of revoked) {
          await this.audit.record(manager, {
            tenantId: key.tenantId,
            actor: SYSTEM_ACTOR,
            action: 'key.revoked',
            target: { type: 'api_key', id: key.id },
            reason: 'LEAK_REPORTED',
            metadata: dto.source ? { source: dto.source } : {},
          });
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

  private async tellOfLeak(
    key: Pick<ApiKey, 'id' | 'tenantId' | 'userId' | 'name' | 'hint'>,
    source?: string,
  ): Promise<void> {
    const users = await this.dataSource.getRepository(User).find({
      relations: { person: true },
      where: [
        { tenantId: key.tenantId, status: 'active', role: In(['owner', 'admin']) },
        ...(key.userId ? [{ tenantId: key.tenantId, id: key.userId, status: 'active' as const }] : []),
      ],
    });
    const text = [
      `The API key "${key.name}" (${key.hint}) was reported as leaked${source ? ` at: ${source}` : ''}.`,
      'It has been revoked and no longer works. Create a new key where it was used.',
    ].join('\n\n');
    const subject = 'An API key was reported as leaked and has been revoked';
    for (const email of new Set(users.map((user) => user.person!.email)))
      this.mail.sendInBackground({ to: email, subject, text });
  }
}
