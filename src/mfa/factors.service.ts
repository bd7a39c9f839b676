import { HttpStatus, Injectable } from '@nestjs/common';
import QRCode from 'qrcode';
import { DataSource, EntityManager, IsNull, Not } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { SecretBox } from '../common/crypto/secret-box';
import { AppException } from '../common/http/problem';
import { Passkey, RecoveryCode, TotpFactor } from './factor.entities';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from './recovery-codes';
import { matchTotp, newTotpSecret, otpauthUri } from './totp';
import {
  authenticationOptions,
  NewCredential,
  registrationOptions,
  RelyingParty,
  relyingParty,
  verifyAuthentication,
  verifyRegistration,
  WebAuthnRefusal,
} from './webauthn';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

export type FactorMethod = 'totp' | 'webauthn' | 'recovery_code';

export interface PasskeyDto {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  backedUp: boolean;
}

export interface FactorStatus {
  totp: boolean;
  passkeys: PasskeyDto[];
  recoveryCodesLeft: number;
}

/** An answer to a second-factor question: exactly one of these. */
export interface FactorAnswer {
  code?: string;
  recoveryCode?: string;
  webauthn?: AuthenticationResponseJSON;
}

export interface FactorCheck {
  ok: boolean;
  method: FactorMethod | null;
  /** Recovery codes left after one was used (for the notice). */
  recoveryCodesLeft?: number;
}

const toPasskeyDto = (p: Passkey): PasskeyDto => ({
  id: p.id,
  name: p.name,
  createdAt: p.createdAt,
  lastUsedAt: p.lastUsedAt,
  backedUp: p.backedUp,
});

export const PASSKEY_NAME_MAX = 64;

/**
 * A person's second factors: an authenticator app (TOTP), passkeys, and recovery codes that
 * stand in for either. Recovery codes exist only alongside a factor: they are made when the
 * first one is added and dropped with the last one.
 */
@Injectable()
export class FactorsService {
  private readonly box: SecretBox;
  readonly rp: RelyingParty;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.box = new SecretBox(config.configEncryptionKey);
    this.rp = relyingParty(config.publicUrl);
  }

  async status(personId: string, manager: EntityManager = this.dataSource.manager): Promise<FactorStatus> {
    // One after another: a transaction's manager is one connection, which runs one query at a time.
    const totp = await manager.getRepository(TotpFactor).existsBy({ personId, confirmedAt: Not(IsNull()) });
    const passkeys = await manager.getRepository(Passkey).find({ where: { personId }, order: { createdAt: 'ASC' } });
    const recoveryCodesLeft = await manager.getRepository(RecoveryCode).countBy({ personId, usedAt: IsNull() });
    return { totp, passkeys: passkeys.map(toPasskeyDto), recoveryCodesLeft };
  }

  /** Which ways this person can answer a second-factor question; empty = they have no factor. */
  async methods(personId: string, manager: EntityManager = this.dataSource.manager): Promise<FactorMethod[]> {
    const status = await this.status(personId, manager);
    const methods: FactorMethod[] = [];
    if (status.totp) methods.push('totp');
    if (status.passkeys.length) methods.push('webauthn');
    if (methods.length && status.recoveryCodesLeft) methods.push('recovery_code');
    return methods;
  }

  async hasFactor(personId: string, manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    return (await this.methods(personId, manager)).length > 0;
  }

  // --- TOTP -------------------------------------------------------------------------------

  /**
   * Starts (or restarts) adding an authenticator app: a new secret, sealed at rest, shown once
   * as a QR code (SVG made here, nothing leaves the server) and as text for typing in.
   */
  async startTotp(personId: string, email: string): Promise<{ secret: string; uri: string; qrSvg: string }> {
    const repo = this.dataSource.getRepository(TotpFactor);
    if (await repo.existsBy({ personId, confirmedAt: Not(IsNull()) }))
      throw new AppException(HttpStatus.CONFLICT, 'TOTP_ALREADY_ENABLED', 'An authenticator app is already set up');
    const secret = newTotpSecret();
    await repo.upsert(
      { personId, secretSealed: this.box.seal(secret, `totp/${personId}`), confirmedAt: null, lastUsedStep: null },
      ['personId'],
    );
    const uri = otpauthUri(secret, 'Keyward', email);
    const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return { secret, uri, qrSvg };
  }

  /** The enrolment in progress (to show its QR code again after a wrong code), or null. */
  async pendingTotp(personId: string, email: string): Promise<{ secret: string; uri: string; qrSvg: string } | null> {
    const pending = await this.dataSource.getRepository(TotpFactor).findOneBy({ personId, confirmedAt: IsNull() });
    if (!pending) return null;
    const secret = this.openSecret(pending);
    const uri = otpauthUri(secret, 'Keyward', email);
    return { secret, uri, qrSvg: await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }) };
  }

  /**
   * Finishes adding the app with a code typed from it. The first factor a person adds comes with
   * ten recovery codes, returned here once.
   */
  async confirmTotp(
    personId: string,
    code: string,
    manager: EntityManager,
  ): Promise<{ recoveryCodes: string[] | null }> {
    const pending = await manager
      .getRepository(TotpFactor)
      .findOne({ where: { personId, confirmedAt: IsNull() }, lock: { mode: 'pessimistic_write' } });
    if (!pending)
      throw new AppException(HttpStatus.CONFLICT, 'TOTP_NOT_STARTED', 'Start adding an authenticator app first');
    const step = matchTotp(this.openSecret(pending), code.trim(), this.clock.now(), null);
    if (step === null)
      throw new AppException(HttpStatus.BAD_REQUEST, 'INVALID_CODE', 'That code is not right; try the current one');
    const first = !(await this.hasFactor(personId, manager));
    await manager.getRepository(TotpFactor).update({ personId }, { confirmedAt: this.clock.now(), lastUsedStep: step });
    return { recoveryCodes: first ? await this.regenerateRecoveryCodes(personId, manager) : null };
  }

  /** True when the person had an app set up (or half set up) and now has none. */
  async removeTotp(personId: string, manager: EntityManager): Promise<boolean> {
    const removed = (await manager.getRepository(TotpFactor).delete({ personId })).affected ?? 0;
    await this.dropRecoveryCodesIfNoFactor(personId, manager);
    return removed > 0;
  }

  /**
   * A code from the app: accepted within one step of now, and only for a step later than the
   * last one accepted; the conditional update makes two requests with the same code race for
   * one success.
   */
  private async checkTotp(personId: string, code: string, manager: EntityManager): Promise<boolean> {
    const factor = await manager.getRepository(TotpFactor).findOneBy({ personId, confirmedAt: Not(IsNull()) });
    if (!factor) return false;
    const step = matchTotp(this.openSecret(factor), code.trim(), this.clock.now(), factor.lastUsedStep);
    if (step === null) return false;
    const [, affected] = (await manager.query(
      `UPDATE totp_factors SET last_used_step = $2
        WHERE person_id = $1 AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $2)`,
      [personId, step],
    )) as [unknown, number];
    return affected === 1;
  }

  private openSecret(factor: TotpFactor): string {
    return this.box.open(factor.secretSealed, `totp/${factor.personId}`);
  }

  // --- recovery codes ---------------------------------------------------------------------

  /** Ten new codes, shown once; every earlier code stops working. */
  async regenerateRecoveryCodes(personId: string, manager: EntityManager): Promise<string[]> {
    const codes = newRecoveryCodes();
    await manager.getRepository(RecoveryCode).delete({ personId });
    await manager.getRepository(RecoveryCode).insert(
      codes.map((code) => ({
        personId,
        codeHash: hashRecoveryCode(this.config.keyPepper, normalizeRecoveryCode(code)!),
      })),
    );
    return codes;
  }

  private async useRecoveryCode(personId: string, input: string, manager: EntityManager): Promise<boolean> {
    const normalized = normalizeRecoveryCode(input);
    if (!normalized) return false;
    const [, affected] = (await manager.query(
      `UPDATE recovery_codes SET used_at = $3 WHERE person_id = $1 AND code_hash = $2 AND used_at IS NULL`,
      [personId, hashRecoveryCode(this.config.keyPepper, normalized), this.clock.now()],
    )) as [unknown, number];
    return affected === 1;
  }

  private async dropRecoveryCodesIfNoFactor(personId: string, manager: EntityManager): Promise<void> {
    if (!(await this.hasFactor(personId, manager))) await manager.getRepository(RecoveryCode).delete({ personId });
  }

  // --- passkeys ---------------------------------------------------------------------------

  async passkeyRegistrationOptions(person: {
    id: string;
    email: string;
  }): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.dataSource.getRepository(Passkey).findBy({ personId: person.id });
    return registrationOptions(this.rp, person, existing);
  }

  /** Verifies the browser's answer and stores the passkey; the first factor comes with recovery codes. */
  async addPasskey(
    personId: string,
    response: RegistrationResponseJSON,
    expectedChallenge: string,
    name: string,
    manager: EntityManager,
  ): Promise<{ passkey: PasskeyDto; recoveryCodes: string[] | null }> {
    let credential: NewCredential;
    try {
      credential = await verifyRegistration(this.rp, response, expectedChallenge);
    } catch (error) {
      if (error instanceof WebAuthnRefusal)
        throw new AppException(HttpStatus.BAD_REQUEST, 'PASSKEY_INVALID', 'The passkey could not be registered');
      throw error;
    }
    if (await manager.getRepository(Passkey).existsBy({ credentialId: credential.credentialId }))
      throw new AppException(HttpStatus.CONFLICT, 'PASSKEY_EXISTS', 'This passkey is already registered');
    const first = !(await this.hasFactor(personId, manager));
    const saved = await manager.getRepository(Passkey).save({ personId, name, ...credential });
    return {
      passkey: toPasskeyDto(saved),
      recoveryCodes: first ? await this.regenerateRecoveryCodes(personId, manager) : null,
    };
  }

  async renamePasskey(personId: string, id: string, name: string): Promise<PasskeyDto> {
    const repo = this.dataSource.getRepository(Passkey);
    const passkey = await repo.findOneBy({ id, personId });
    if (!passkey) throw new AppException(HttpStatus.NOT_FOUND, 'NOT_FOUND', 'Passkey not found');
    passkey.name = name;
    return toPasskeyDto(await repo.save(passkey));
  }

  /** Null when the person has no such passkey. */
  async removePasskey(personId: string, id: string, manager: EntityManager): Promise<PasskeyDto | null> {
    const passkey = await manager.getRepository(Passkey).findOneBy({ id, personId });
    if (!passkey) return null;
    await manager.getRepository(Passkey).delete({ id, personId });
    await this.dropRecoveryCodesIfNoFactor(personId, manager);
    return toPasskeyDto(passkey);
  }

  /** Options for a passkey answer from this person (second factor or step-up). */
  async passkeyRequestOptions(
    personId: string,
    challenge?: string,
  ): Promise<PublicKeyCredentialRequestOptionsJSON | null> {
    const passkeys = await this.dataSource.getRepository(Passkey).findBy({ personId });
    return passkeys.length ? authenticationOptions(this.rp, passkeys, 'preferred', challenge) : null;
  }

  /** Options for a passwordless sign-in: any discoverable credential, user verification required. */
  passwordlessOptions(): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return authenticationOptions(this.rp, null, 'required');
  }

  /**
   * Checks an assertion. `personId` null: a passwordless sign-in, where the credential says who
   * it is (and its user handle must agree) and user verification is required. Returns the
   * person it proved, or null.
   */
  async checkPasskey(
    personId: string | null,
    response: AuthenticationResponseJSON,
    expectedChallenge: string,
    manager: EntityManager,
  ): Promise<string | null> {
    const passkey = await manager
      .getRepository(Passkey)
      .findOne({ where: { credentialId: response.id }, lock: { mode: 'pessimistic_write' } });
    if (!passkey || (personId !== null && passkey.personId !== personId)) return null;
    const handle = response.response?.userHandle;
    if (personId === null && (!handle || Buffer.from(handle, 'base64url').toString('utf8') !== passkey.personId))
      return null;
    try {
      const { newSignCount } = await verifyAuthentication(
        this.rp,
        response,
        expectedChallenge,
        passkey,
        personId === null,
      );
      await manager
        .getRepository(Passkey)
        .update({ id: passkey.id }, { signCount: newSignCount, lastUsedAt: this.clock.now() });
      return passkey.personId;
    } catch (error) {
      if (error instanceof WebAuthnRefusal) return null;
      throw error;
    }
  }

  /** Checks one answer of a person who has factors; spends what it uses (a TOTP step, a recovery code). */
  async check(
    personId: string,
    answer: FactorAnswer,
    expectedWebauthnChallenge: string | null,
    manager: EntityManager,
  ): Promise<FactorCheck> {
    if (answer.code !== undefined) return { ok: await this.checkTotp(personId, answer.code, manager), method: 'totp' };
    if (answer.recoveryCode !== undefined) {
      if (!(await this.useRecoveryCode(personId, answer.recoveryCode, manager)))
        return { ok: false, method: 'recovery_code' };
      const recoveryCodesLeft = await manager.getRepository(RecoveryCode).countBy({ personId, usedAt: IsNull() });
      return { ok: true, method: 'recovery_code', recoveryCodesLeft };
    }
    if (answer.webauthn !== undefined && expectedWebauthnChallenge) {
      const proved = await this.checkPasskey(personId, answer.webauthn, expectedWebauthnChallenge, manager);
      return { ok: proved === personId, method: 'webauthn' };
    }
    return { ok: false, method: null };
  }

  /** Removes every factor of a person (an owner's or operator's reset); true when there were any. */
  async resetAll(personId: string, manager: EntityManager): Promise<boolean> {
    const had = await this.hasFactor(personId, manager);
    await manager.getRepository(TotpFactor).delete({ personId });
    await manager.getRepository(Passkey).delete({ personId });
    await manager.getRepository(RecoveryCode).delete({ personId });
    return had;
  }
}
