import { HttpStatus, Injectable } from '@nestjs/common';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock';
import { Principal } from '../common/auth/principal';
import type { ClientInfo } from '../common/http/client-info';
import { AppException } from '../common/http/problem';
import { FactorAnswer, FactorMethod, FactorsService } from './factors.service';
import { MfaChallengesService } from './mfa-challenges.service';
import { assertOneAnswer, invalidFactor, SecondFactorService } from './second-factor.service';
import { challengeInvalid } from './mfa-sign-in.service';
import { looksLikeCredential } from './webauthn';

/** A factor checked this recently counts as fresh for a sensitive action. */
export const STEP_UP_WINDOW_MS = 5 * 60 * 1000;

class WrongAnswer extends Error {}

/**
 * Sensitive actions (revealing a secret, a key with config:secrets, changing roles, removing a
 * factor) need a factor checked within the last five minutes of this sign-in. The time of the
 * last check is kept on the session, so it holds for the dashboard cookie and for the JWTs of
 * an API sign-in alike.
 *
 * Who has no factor has nothing to step up with, and is let through: in a tenant whose policy
 * requires a factor they could not have got here (their session may only enrol one), and in
 * one without, asking would lock them out of their own tenant. API keys and the operator's
 * token are not people's sign-ins and are not asked either: what a key may do is its scopes.
 */
@Injectable()
export class StepUpService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly factors: FactorsService,
    private readonly challenges: MfaChallengesService,
    private readonly secondFactor: SecondFactorService,
  ) {}

  /** Inside a transaction, pass its manager (one connection on the embedded database). */
  async assertFresh(principal: Principal, manager: EntityManager = this.dataSource.manager): Promise<void> {
    if (principal.kind !== 'user' || !principal.sessionId || !principal.personId) return;
    const rows: { factor_verified_at: Date | null }[] = await manager.query(
      'SELECT factor_verified_at FROM sessions WHERE id = $1 AND tenant_id = $2',
      [principal.sessionId, principal.tenantId],
    );
    const at = rows[0]?.factor_verified_at;
    if (at && new Date(at).getTime() > this.clock.now().getTime() - STEP_UP_WINDOW_MS) return;
    const methods = await this.factors.methods(principal.personId, manager);
    if (!methods.length) return;
    throw stepUpRequired(methods);
  }

  /** Options and a challenge for a passkey step-up (a code needs neither). */
  async begin(principal: Principal): Promise<{
    challenge: string;
    expiresAt: Date;
    methods: FactorMethod[];
    webauthn?: PublicKeyCredentialRequestOptionsJSON;
  }> {
    const personId = principal.personId!;
    const methods = await this.factors.methods(personId);
    const webauthn = methods.includes('webauthn') ? await this.factors.passkeyRequestOptions(personId) : null;
    const { token, expiresAt } = await this.challenges.issue('step_up', personId, {
      webauthnChallenge: webauthn?.challenge,
      context: { sessionId: principal.sessionId },
    });
    return { challenge: token, expiresAt, methods, ...(webauthn ? { webauthn } : {}) };
  }

  /** Checks a factor and marks this session's factor as fresh; returns the time it did. */
  async verify(
    principal: Principal,
    answer: FactorAnswer & { challenge?: string },
    client: ClientInfo,
  ): Promise<{ factorVerifiedAt: Date }> {
    const { challenge: token, ...factor } = answer;
    assertOneAnswer(factor);
    const personId = principal.personId!;
    if (!(await this.factors.hasFactor(personId)))
      throw new AppException(HttpStatus.CONFLICT, 'NO_FACTOR', 'You have no second factor to confirm with');
    let challenge: Awaited<ReturnType<MfaChallengesService['find']>> = null;
    if (factor.webauthn !== undefined) {
      if (!looksLikeCredential(factor.webauthn))
        throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', 'webauthn must be a credential (JSON)');
      challenge = await this.challenges.find('step_up', token);
      if (!challenge || challenge.personId !== personId || challenge.context.sessionId !== principal.sessionId)
        throw challengeInvalid();
    }
    const now = this.clock.now();
    await this.secondFactor.assertAllowed(personId, client);
    try {
      const check = await this.dataSource.transaction(async (manager) => {
        const result = await this.secondFactor.verify(
          personId,
          factor,
          challenge?.webauthnChallenge ?? null,
          client,
          manager,
        );
        if (!result.ok) throw new WrongAnswer();
        if (challenge && !(await this.challenges.consume(challenge.id, manager))) throw challengeInvalid();
        await manager.query('UPDATE sessions SET factor_verified_at = $1 WHERE id = $2 AND tenant_id = $3', [
          now,
          principal.sessionId,
          principal.tenantId,
        ]);
        return result;
      });
      await this.secondFactor.succeeded(personId, client, check);
      return { factorVerifiedAt: now };
    } catch (error) {
      if (!(error instanceof WrongAnswer)) throw error;
      if (challenge) await this.challenges.failed(challenge.id);
      await this.secondFactor.failed(personId, client);
      throw invalidFactor();
    }
  }
}

export const stepUpRequired = (methods: FactorMethod[]) =>
  new AppException(
    HttpStatus.FORBIDDEN,
    'STEP_UP_REQUIRED',
    'Confirm it is you with your second factor first (POST /auth/step-up); it counts for 5 minutes',
    { methods },
  );
