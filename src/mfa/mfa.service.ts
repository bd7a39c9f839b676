import { HttpStatus, Injectable } from '@nestjs/common';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf, AuditActor } from '../audit/dto/audit.dto';
import { Clock } from '../common/clock';
import { Principal } from '../common/auth/principal';
import type { ClientInfo } from '../common/http/client-info';
import { AppException } from '../common/http/problem';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import { MfaPolicy, Tenant } from '../tenants/tenant.entity';
import { FactorsService, FactorStatus, PasskeyDto } from './factors.service';
import { MfaAudit } from './mfa-audit';
import { MfaChallengesService } from './mfa-challenges.service';
import { SecurityNotices } from '../people/security-notices.service';
import { challengeInvalid } from './mfa-sign-in.service';
import { StepUpService } from './step-up.service';
import { looksLikeCredential } from './webauthn';

/** Whether a tenant's policy asks this role for a second factor. */
export const policyRequires = (policy: MfaPolicy, role: string): boolean =>
  policy === 'everyone' || (policy === 'admins' && (role === 'owner' || role === 'admin'));

/**
 * What a signed-in person does with their own factors (add, name, remove, new recovery codes),
 * an owner's tenant policy, and the reset of a member who lost every factor. Every change is
 * audited in each of the person's tenants and mailed to them.
 */
@Injectable()
export class MfaService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly factors: FactorsService,
    private readonly challenges: MfaChallengesService,
    private readonly stepUp: StepUpService,
    private readonly audit: MfaAudit,
    private readonly notices: SecurityNotices,
    private readonly invalidations: InvalidationBus,
  ) {}

  status(principal: Principal): Promise<FactorStatus> {
    return this.factors.status(personOf(principal));
  }

  async startTotp(principal: Principal) {
    return this.factors.startTotp(personOf(principal), await this.emailOf(personOf(principal)));
  }

  async pendingTotp(principal: Principal) {
    return this.factors.pendingTotp(personOf(principal), await this.emailOf(personOf(principal)));
  }

  async confirmTotp(
    principal: Principal,
    code: string,
    client: ClientInfo,
  ): Promise<{ recoveryCodes: string[] | null }> {
    const personId = personOf(principal);
    const result = await this.dataSource.transaction(async (manager) => {
      const confirmed = await this.factors.confirmTotp(personId, code, manager);
      await this.factorAdded(manager, principal, { factor: 'totp' }, client);
      return confirmed;
    });
    await this.afterFactorAdded(principal);
    await this.notices.factorAdded({ personId }, 'An authenticator app', client);
    return result;
  }

  async removeTotp(principal: Principal, client: ClientInfo): Promise<void> {
    await this.stepUp.assertFresh(principal);
    const personId = personOf(principal);
    const removed = await this.dataSource.transaction(async (manager) => {
      if (!(await this.factors.removeTotp(personId, manager))) return false;
      await this.audit.recordForPerson(manager, personId, {
        action: 'mfa.factor_removed',
        actor: actorOf(principal),
        client,
        metadata: { factor: 'totp' },
      });
      return true;
    });
    if (!removed) throw new AppException(HttpStatus.NOT_FOUND, 'NOT_FOUND', 'No authenticator app is set up');
    await this.notices.factorRemoved({ personId }, 'Your authenticator app', client);
  }

  async regenerateRecoveryCodes(principal: Principal, client: ClientInfo): Promise<{ recoveryCodes: string[] }> {
    const personId = personOf(principal);
    if (!(await this.factors.hasFactor(personId)))
      throw new AppException(HttpStatus.CONFLICT, 'NO_FACTOR', 'Add an authenticator app or a passkey first');
    await this.stepUp.assertFresh(principal);
    const recoveryCodes = await this.dataSource.transaction(async (manager) => {
      const codes = await this.factors.regenerateRecoveryCodes(personId, manager);
      await this.audit.recordForPerson(manager, personId, {
        action: 'mfa.recovery_codes_regenerated',
        actor: actorOf(principal),
        client,
      });
      return codes;
    });
    return { recoveryCodes };
  }

  async passkeyOptions(principal: Principal) {
    const personId = personOf(principal);
    const webauthn = await this.factors.passkeyRegistrationOptions({
      id: personId,
      email: await this.emailOf(personId),
    });
    const { token, expiresAt } = await this.challenges.issue('passkey_registration', personId, {
      webauthnChallenge: webauthn.challenge,
      context: { sessionId: principal.sessionId },
    });
    return { challenge: token, expiresAt, webauthn };
  }

  async addPasskey(
    principal: Principal,
    dto: { challenge: string; webauthn: unknown; name: string },
    client: ClientInfo,
  ): Promise<{ passkey: PasskeyDto; recoveryCodes: string[] | null }> {
    const personId = personOf(principal);
    if (!looksLikeCredential(dto.webauthn))
      throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', 'webauthn must be a credential (JSON)');
    const challenge = await this.challenges.find('passkey_registration', dto.challenge);
    if (!challenge || challenge.personId !== personId || !challenge.webauthnChallenge) throw challengeInvalid();
    const result = await this.dataSource.transaction(async (manager) => {
      if (!(await this.challenges.consume(challenge.id, manager))) throw challengeInvalid();
      const added = await this.factors.addPasskey(
        personId,
        dto.webauthn as unknown as RegistrationResponseJSON,
        challenge.webauthnChallenge!,
        dto.name.trim(),
        manager,
      );
      await this.factorAdded(manager, principal, { factor: 'passkey', passkeyId: added.passkey.id }, client);
      return added;
    });
    await this.afterFactorAdded(principal);
    await this.notices.factorAdded({ personId }, `A passkey ("${result.passkey.name}")`, client);
    return result;
  }

  renamePasskey(principal: Principal, id: string, name: string): Promise<PasskeyDto> {
    return this.factors.renamePasskey(personOf(principal), id, name.trim());
  }

  async removePasskey(principal: Principal, id: string, client: ClientInfo): Promise<void> {
    await this.stepUp.assertFresh(principal);
    const personId = personOf(principal);
    const removed = await this.dataSource.transaction(async (manager) => {
      const passkey = await this.factors.removePasskey(personId, id, manager);
      if (passkey)
        await this.audit.recordForPerson(manager, personId, {
          action: 'mfa.factor_removed',
          actor: actorOf(principal),
          client,
          metadata: { factor: 'passkey', passkeyId: passkey.id },
        });
      return passkey;
    });
    if (!removed) throw new AppException(HttpStatus.NOT_FOUND, 'NOT_FOUND', 'Passkey not found');
    await this.notices.factorRemoved({ personId }, `The passkey "${removed.name}"`, client);
  }

  // --- tenant policy and resets -------------------------------------------------------------

  async policy(tenantId: string): Promise<{ policy: MfaPolicy }> {
    const tenant = await this.dataSource.getRepository(Tenant).findOneByOrFail({ id: tenantId });
    return { policy: tenant.mfaPolicy };
  }

  /** Members it now concerns who have no factor are sent to enrolment at their next sign-in. */
  async setPolicy(principal: Principal, policy: MfaPolicy, client: ClientInfo): Promise<{ policy: MfaPolicy }> {
    await this.dataSource.transaction(async (manager) => {
      const tenant = await manager
        .getRepository(Tenant)
        .findOne({ where: { id: principal.tenantId! }, lock: { mode: 'pessimistic_write' } });
      if (!tenant) throw new AppException(HttpStatus.NOT_FOUND, 'NOT_FOUND', 'Tenant not found');
      if (tenant.mfaPolicy === policy) return;
      await manager.getRepository(Tenant).update({ id: tenant.id }, { mfaPolicy: policy });
      await this.auditIn(manager, principal, 'tenant.mfa_policy_changed', { type: 'tenant', id: tenant.id }, client, {
        from: tenant.mfaPolicy,
        to: policy,
      });
    });
    return { policy };
  }

  /**
   * Removes every factor of a member who lost theirs, so they can sign in with their password
   * and enrol again. An owner may do it only for a person who belongs to no other tenant (the
   * factors are theirs everywhere); otherwise it takes the operator. Audited and mailed.
   */
  async resetMemberFactors(
    actor: { principal: Principal } | { operator: true },
    tenantId: string,
    userId: string,
    client: ClientInfo,
  ): Promise<void> {
    if ('principal' in actor) await this.stepUp.assertFresh(actor.principal);
    const auditActor: AuditActor = 'principal' in actor ? actorOf(actor.principal) : { type: 'admin_token', id: null };
    const personId = await this.dataSource.transaction(async (manager) => {
      const rows: { person_id: string }[] = await manager.query(
        'SELECT person_id FROM users WHERE id = $1 AND tenant_id = $2',
        [userId, tenantId],
      );
      const personId = rows[0]?.person_id;
      if (!personId) throw new AppException(HttpStatus.NOT_FOUND, 'NOT_FOUND', 'User not found');
      if ('principal' in actor) {
        if (actor.principal.userId === userId)
          throw new AppException(
            HttpStatus.BAD_REQUEST,
            'SELF_RESET',
            'Remove your own factors in your security settings',
          );
        const elsewhere: unknown[] = await manager.query(
          'SELECT 1 FROM users WHERE person_id = $1 AND tenant_id <> $2 LIMIT 1',
          [personId, tenantId],
        );
        if (elsewhere.length)
          throw new AppException(
            HttpStatus.CONFLICT,
            'PERSON_IN_OTHER_TENANTS',
            'This person also belongs to other tenants; only the operator can reset their factors',
          );
      }
      if (!(await this.factors.resetAll(personId, manager)))
        throw new AppException(HttpStatus.CONFLICT, 'NO_FACTOR', 'This user has no second factor');
      await this.audit.recordForPerson(manager, personId, { action: 'mfa.factors_reset', actor: auditActor, client });
      return personId;
    });
    await this.notices.factorRemoved(
      { personId },
      'Every second factor of your account (authenticator app, passkeys and recovery codes)',
      client,
      'principal' in actor ? 'an owner of your tenant' : 'the operator',
    );
  }

  private async factorAdded(
    manager: EntityManager,
    principal: Principal,
    metadata: Record<string, unknown>,
    client: ClientInfo,
  ): Promise<void> {
    await this.audit.recordForPerson(manager, personOf(principal), {
      action: 'mfa.factor_added',
      actor: actorOf(principal),
      client,
      metadata,
    });
    // Adding a factor proves it: this session's factor is fresh, and it is no longer held to enrolment.
    await manager.query(
      'UPDATE sessions SET factor_verified_at = $1, mfa_enrolment_required = false WHERE id = $2 AND tenant_id = $3',
      [this.clock.now(), principal.sessionId, principal.tenantId],
    );
  }

  private async afterFactorAdded(principal: Principal): Promise<void> {
    if (principal.sessionId) await this.invalidations.publish({ kind: 'session', sessionId: principal.sessionId });
  }

  private async auditIn(
    manager: EntityManager,
    principal: Principal,
    action: string,
    target: { type: string; id: string },
    client: ClientInfo,
    metadata: Record<string, unknown>,
  ): Promise<void> {
    await this.audit.recordIn(manager, principal.tenantId!, {
      action,
      actor: actorOf(principal),
      target,
      client,
      metadata,
    });
  }

  private async emailOf(personId: string): Promise<string> {
    const rows: { email: string }[] = await this.dataSource.query('SELECT email FROM people WHERE id = $1', [personId]);
    return rows[0]?.email ?? '';
  }
}

function personOf(principal: Principal): string {
  if (principal.kind !== 'user' || !principal.personId)
    throw new AppException(HttpStatus.FORBIDDEN, 'FORBIDDEN', 'Only a signed-in person has second factors');
  return principal.personId;
}
