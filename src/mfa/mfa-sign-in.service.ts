import { HttpStatus, Injectable } from '@nestjs/common';
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { DataSource, EntityManager } from 'typeorm';
import type { ClientInfo } from '../common/http/client-info';
import { AppException } from '../common/http/problem';
import { FactorAnswer, FactorMethod, FactorsService } from './factors.service';
import { LiveChallenge, MfaChallengesService } from './mfa-challenges.service';
import { assertOneAnswer, invalidFactor, SecondFactorService } from './second-factor.service';
import { looksLikeCredential } from './webauthn';

/** What POST /auth/login answers when the password was right and a second factor is needed. */
export interface MfaRequired {
  mfa_required: true;
  challenge: string;
  expiresAt: Date;
  methods: FactorMethod[];
  /** Present when the person has passkeys: hand to navigator.credentials.get(). */
  webauthn?: PublicKeyCredentialRequestOptionsJSON;
}

export const challengeInvalid = () =>
  new AppException(
    HttpStatus.UNAUTHORIZED,
    'CHALLENGE_INVALID',
    'This sign-in step has expired or was already used; sign in again',
  );

/** Thrown inside the step's transaction so everything it spent is rolled back. */
class WrongAnswer extends Error {}

/**
 * The second step of a sign-in, and a passkey as the first and only step. Neither is a session:
 * a challenge grants nothing until its step succeeds, once, within five minutes; what the
 * sign-in then opens (tenant, session, tokens) is the caller's, inside the same transaction
 * that spends the challenge.
 */
@Injectable()
export class MfaSignInService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly factors: FactorsService,
    private readonly challenges: MfaChallengesService,
    private readonly secondFactor: SecondFactorService,
  ) {}

  /** Methods of the person; empty when they have no factor (the caller signs them straight in). */
  methods(personId: string): Promise<FactorMethod[]> {
    return this.factors.methods(personId);
  }

  async begin(personId: string, methods: FactorMethod[], context: Record<string, unknown>): Promise<MfaRequired> {
    const webauthn = methods.includes('webauthn') ? await this.factors.passkeyRequestOptions(personId) : null;
    const { token, expiresAt } = await this.challenges.issue('sign_in', personId, {
      webauthnChallenge: webauthn?.challenge,
      context,
    });
    return { mfa_required: true, challenge: token, expiresAt, methods, ...(webauthn ? { webauthn } : {}) };
  }

  /** The methods and passkey options of a live sign-in challenge (to show its page again), or null. */
  async pending(
    token: unknown,
  ): Promise<{ methods: FactorMethod[]; webauthn: PublicKeyCredentialRequestOptionsJSON | null } | null> {
    const challenge = await this.challenges.find('sign_in', token);
    if (!challenge?.personId) return null;
    const methods = await this.factors.methods(challenge.personId);
    const webauthn =
      methods.includes('webauthn') && challenge.webauthnChallenge
        ? await this.factors.passkeyRequestOptions(challenge.personId, challenge.webauthnChallenge)
        : null;
    return { methods, webauthn };
  }

  /**
   * Checks the answer; then `finish` (in the same transaction) decides what the sign-in opens and
   * may refuse (a tenant still to choose): a refusal rolls back what the answer spent and leaves
   * the challenge live for another try.
   */
  async complete<T>(
    token: unknown,
    answer: FactorAnswer,
    client: ClientInfo,
    finish: (challenge: LiveChallenge & { personId: string }, manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    assertOneAnswer(answer);
    if (answer.webauthn !== undefined && !looksLikeCredential(answer.webauthn))
      throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', 'webauthn must be a credential (JSON)');
    const challenge = await this.challenges.find('sign_in', token);
    if (!challenge?.personId) throw challengeInvalid();
    const personId = challenge.personId;
    await this.secondFactor.assertAllowed(personId, client);
    try {
      const { result, check } = await this.dataSource.transaction(async (manager) => {
        const check = await this.secondFactor.verify(personId, answer, challenge.webauthnChallenge, client, manager);
        if (!check.ok) throw new WrongAnswer();
        const result = await finish({ ...challenge, personId }, manager);
        if (!(await this.challenges.consume(challenge.id, manager))) throw challengeInvalid();
        return { result, check };
      });
      await this.secondFactor.succeeded(personId, client, check);
      return result;
    } catch (error) {
      if (!(error instanceof WrongAnswer)) throw error;
      await this.challenges.failed(challenge.id);
      await this.secondFactor.failed(personId, client);
      throw invalidFactor();
    }
  }

  /** A passwordless sign-in starts here: options for any passkey the browser holds. */
  async beginPasswordless(
    context: Record<string, unknown>,
  ): Promise<{ challenge: string; expiresAt: Date; webauthn: PublicKeyCredentialRequestOptionsJSON }> {
    const webauthn = await this.factors.passwordlessOptions();
    const { token, expiresAt } = await this.challenges.issue('passkey_sign_in', null, {
      webauthnChallenge: webauthn.challenge,
      context,
    });
    return { challenge: token, expiresAt, webauthn };
  }

  /**
   * A passkey with user verification proves two factors at once (the device, and the PIN or
   * biometric that unlocked it). An unknown passkey, a wrong signature and a used or expired
   * challenge all answer the same 401. A signature cannot be guessed, so there is no
   * per-person throttle here; a challenge takes at most MAX_CHALLENGE_ATTEMPTS answers.
   */
  async completePasswordless<T>(
    token: unknown,
    response: unknown,
    finish: (personId: string, challenge: LiveChallenge, manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    if (!looksLikeCredential(response))
      throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', 'webauthn must be a credential (JSON)');
    const challenge = await this.challenges.find('passkey_sign_in', token);
    if (!challenge?.webauthnChallenge) throw challengeInvalid();
    try {
      return await this.dataSource.transaction(async (manager) => {
        const personId = await this.factors.checkPasskey(
          null,
          response as AuthenticationResponseJSON,
          challenge.webauthnChallenge!,
          manager,
        );
        if (!personId) throw new WrongAnswer();
        const result = await finish(personId, challenge, manager);
        if (!(await this.challenges.consume(challenge.id, manager))) throw challengeInvalid();
        return result;
      });
    } catch (error) {
      if (!(error instanceof WrongAnswer)) throw error;
      await this.challenges.failed(challenge.id);
      throw new AppException(HttpStatus.UNAUTHORIZED, 'PASSKEY_NOT_ACCEPTED', 'That passkey was not accepted');
    }
  }
}
