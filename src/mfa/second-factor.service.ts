import { HttpStatus, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuthThrottleService } from '../auth/auth-throttle.service';
import { AppConfig } from '../config/app-config';
import type { ClientInfo } from '../common/http/client-info';
import { AppException } from '../common/http/problem';
import { FactorAnswer, FactorCheck, FactorsService } from './factors.service';
import { MfaAudit } from './mfa-audit';
import { SecurityNotices } from '../people/security-notices.service';

/**
 * Every place a person answers a second-factor question goes through `verify`: the sign-in's
 * second step, a step-up, a passkey sign-in. Failures are throttled per person and per address
 * with the sign-in limits, in the same table; a used recovery code is audited and mailed.
 */
@Injectable()
export class SecondFactorService {
  constructor(
    private readonly config: AppConfig,
    private readonly factors: FactorsService,
    private readonly throttle: AuthThrottleService,
    private readonly audit: MfaAudit,
    private readonly notices: SecurityNotices,
  ) {}

  /**
   * Checks `answer` for the person inside the caller's transaction, so what it spends (the TOTP
   * step, the recovery code, the passkey counter) is kept only if the caller's step completes.
   * Call assertAllowed first, outside the transaction.
   */
  async verify(
    personId: string,
    answer: FactorAnswer,
    webauthnChallenge: string | null,
    client: ClientInfo,
    manager: EntityManager,
  ): Promise<FactorCheck> {
    const check = await this.factors.check(personId, answer, webauthnChallenge, manager);
    if (!check.ok) return check;
    if (check.method === 'recovery_code')
      await this.audit.recordForPerson(manager, personId, {
        action: 'mfa.recovery_code_used',
        client,
        metadata: { recoveryCodesLeft: check.recoveryCodesLeft },
      });
    return check;
  }

  /** 429 once the person, or this address, has given too many wrong answers lately. */
  async assertAllowed(personId: string, client: ClientInfo): Promise<void> {
    const keys = this.keys(personId, client);
    await this.throttle.assertAllowed([
      { key: keys.person, limit: this.config.loginFailuresPerAccount },
      { key: keys.ip, limit: this.config.loginFailuresPerIp },
    ]);
  }

  /** Counts a wrong answer against the person and the address (outside the step's transaction). */
  async failed(personId: string, client: ClientInfo): Promise<void> {
    const keys = this.keys(personId, client);
    await this.throttle.record([keys.person, keys.ip]);
  }

  async succeeded(personId: string, client: ClientInfo, check: FactorCheck): Promise<void> {
    await this.throttle.clear([this.keys(personId, client).person]);
    if (check.method === 'recovery_code')
      await this.notices.recoveryCodeUsed({ personId }, check.recoveryCodesLeft ?? 0, client);
  }

  private keys(personId: string, client: ClientInfo) {
    return { person: `mfa:person:${personId}`, ip: `mfa:ip:${client.ip ?? 'unknown'}` };
  }
}

export const invalidFactor = () =>
  new AppException(HttpStatus.UNAUTHORIZED, 'INVALID_FACTOR', 'That code or passkey was not accepted');

/** Exactly one way of answering: a TOTP code, a recovery code, or a WebAuthn assertion. */
export function assertOneAnswer(answer: FactorAnswer): void {
  const given = [answer.code, answer.recoveryCode, answer.webauthn].filter((v) => v !== undefined).length;
  if (given !== 1)
    throw new AppException(
      HttpStatus.BAD_REQUEST,
      'VALIDATION_FAILED',
      'Give exactly one of code, recoveryCode or webauthn',
    );
}
