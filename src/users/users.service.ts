import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf, ADMIN_ACTOR, AuditClient } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app-config';
import { Principal, Role } from '../common/auth/principal';
import { AppException } from '../common/http/problem';
import { isUniqueViolation, notFound } from '../common/http/errors';
import { PasswordService } from '../auth/password.service';
import { OneTimeTokensService } from '../auth/one-time-tokens.service';
import { MailService } from '../mail/mail.service';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import { StepUpService } from '../mfa/step-up.service';
import { SessionsService } from '../sessions/sessions.service';
import { Tenant } from '../tenants/tenant.entity';
import { Membership, User } from './user.entity';
import { Person } from '../people/person.entity';
import { PeopleService } from '../people/people.service';
import { statusSql } from '../api-keys/key-policy';
import { Clock } from '../common/clock';
import { CreateUserDto, InviteUserDto, toUserDto, UpdateUserDto, UserDto } from './dto/users.dto';

const emailTaken = () => new AppException(HttpStatus.CONFLICT, 'EMAIL_TAKEN', 'A user with this email already exists');

/** Which roles an actor may hand out or act on: owners everything, admins members and viewers. */
export const MANAGEABLE_ROLES: Record<Role, Role[]> = {
  owner: ['owner', 'admin', 'member', 'viewer'],
  admin: ['member', 'viewer'],
  member: [],
  viewer: [],
};

@Injectable()
export class UsersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly passwords: PasswordService,
    private readonly tokens: OneTimeTokensService,
    private readonly mail: MailService,
    private readonly sessions: SessionsService,
    private readonly invalidations: InvalidationBus,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly stepUp: StepUpService,
    private readonly people: PeopleService,
  ) {}

  /**
   * The operator adds someone to a tenant. With a password, a person new to Keyward (or one who
   * has none yet) can sign in at once; without one, the membership is an invitation with a
   * one-time link. The operator is told when the address already has a password.
   */
  async createByAdmin(tenantId: string, dto: CreateUserDto): Promise<UserDto & { inviteUrl?: string }> {
    if (!(await this.dataSource.getRepository(Tenant).existsBy({ id: tenantId }))) throw notFound('Tenant');
    if (dto.password !== undefined) this.passwords.assertAcceptable(dto.password, [dto.email]);
    const passwordHash = dto.password !== undefined ? await this.passwords.hash(dto.password) : null;
    return this.dataSource.transaction(async (manager) => {
      const person = await this.people.findOrCreate(manager, dto.email);
      if (passwordHash) {
        if (person.passwordHash) throw emailTaken();
        Object.assign(person, { passwordHash, passwordChangedAt: this.clock.now() });
        await manager
          .getRepository(Person)
          .update({ id: person.id }, { passwordHash, passwordChangedAt: person.passwordChangedAt });
      }
      const user = await this.insertMembership(manager, person, {
        tenantId,
        role: dto.role,
        status: passwordHash ? 'active' : 'invited',
      });
      await this.audit.record(manager, {
        tenantId,
        actor: ADMIN_ACTOR,
        action: 'user.created',
        target: { type: 'user', id: user.id },
        metadata: { email: person.email, role: user.role, status: user.status },
      });
      if (passwordHash) return toUserDto(user);
      const token = await this.tokens.issue('invitation', user, null, manager);
      return { ...toUserDto(user), inviteUrl: this.inviteUrl(token) };
    });
  }

  /**
   * An owner or admin invites someone by email; so does an operator, to the tenant in
   * `actor.tenantId`. Whether the address is new to Keyward or already someone's elsewhere, the
   * inviter gets the same answer, in the same time (the same statements run); only the mail
   * says which: choose a password, or sign in to accept.
   */
  async invite(actor: Principal, dto: InviteUserDto, client: AuditClient = {}): Promise<UserDto> {
    this.assertMayManage(actor, dto.role);
    const { user, token } = await this.dataSource.transaction(async (manager) => {
      const person = await this.people.findOrCreate(manager, dto.email);
      const user = await this.insertMembership(manager, person, {
        tenantId: actor.tenantId!,
        role: dto.role,
        status: 'invited',
      });
      await this.audit.record(manager, {
        tenantId: actor.tenantId!,
        actor: actorOf(actor),
        action: 'user.invited',
        target: { type: 'user', id: user.id },
        client,
        metadata: { email: person.email, role: user.role },
      });
      return { user, token: await this.tokens.issue('invitation', user, actor.userId ?? null, manager) };
    });
    const tenant = await this.dataSource.getRepository(Tenant).findOneByOrFail({ id: actor.tenantId! });
    const step = user.person.passwordHash
      ? 'You already have a Keyward account: accept with its password here (the link works once, for 7 days):'
      : 'Set your password here (the link works once, for 7 days):';
    this.mail.sendInBackground({
      to: user.person.email,
      subject: `You are invited to ${tenant.name} on Keyward`,
      text: `You have been invited to join ${tenant.name} as ${user.role}.\n\n${step}\n${this.inviteUrl(token)}\n`,
    });
    return toUserDto(user);
  }

  async list(tenantId: string): Promise<UserDto[]> {
    const users = await this.dataSource
      .getRepository(User)
      .find({ where: { tenantId }, relations: { person: true }, order: { createdAt: 'ASC', id: 'ASC' } });
    return users.map((user) => toUserDto(user as Membership));
  }

  /**
   * Changes a user's role or status. Disabling ends their sessions for good and suspends their
   * keys: they are refused while the user is disabled and work again once enabled. The answer
   * says how many working keys that suspended.
   */
  async update(actor: Principal, id: string, dto: UpdateUserDto): Promise<UserDto & { suspendedKeys?: number }> {
    const tenantId = actor.tenantId!;
    let suspendedKeys: number | undefined;
    const updated = await this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(User);
      // Lock the tenant's owners first, so two concurrent demotions cannot both pass the check.
      const owners = await repository.find({
        where: { tenantId, role: 'owner', status: 'active' },
        lock: { mode: 'pessimistic_write' },
      });
      const user = (await repository.findOne({ where: { tenantId, id }, relations: { person: true } })) as Membership;
      if (!user) throw notFound('User');
      this.assertMayManage(actor, user.role);
      if (dto.role) this.assertMayManage(actor, dto.role);
      if (dto.role && dto.role !== user.role) await this.stepUp.assertFresh(actor, manager);
      if (dto.status === 'active' && (user.status === 'invited' || !user.person.passwordHash))
        throw new AppException(
          HttpStatus.CONFLICT,
          'INVITATION_PENDING',
          'This user has not accepted the invitation yet',
        );

      const losesOwnership =
        user.role === 'owner' &&
        user.status === 'active' &&
        ((dto.role && dto.role !== 'owner') || dto.status === 'disabled');
      if (losesOwnership && owners.filter((owner) => owner.id !== user.id).length === 0) {
        throw new AppException(HttpStatus.CONFLICT, 'LAST_OWNER', 'A tenant must keep at least one active owner');
      }
      const before = { role: user.role, status: user.status };
      if (dto.role) user.role = dto.role;
      if (dto.status) user.status = dto.status;
      const { person, ...membership } = user;
      const saved = Object.assign(await repository.save(membership), { person }) as Membership;
      const record = (action: string, metadata: Record<string, unknown>) =>
        this.audit.record(manager, {
          tenantId,
          actor: actorOf(actor),
          action,
          target: { type: 'user', id: user.id },
          metadata,
        });
      if (saved.role !== before.role) await record('user.role_changed', { from: before.role, to: saved.role });
      if (dto.status === 'disabled') {
        await this.sessions.revokeAllForUser(tenantId, user.id, 'user_disabled', undefined, manager);
        suspendedKeys = await this.countWorkingKeys(manager, tenantId, user.id);
      }
      if (saved.status !== before.status)
        await record(saved.status === 'disabled' ? 'user.disabled' : 'user.enabled', {
          from: before.status,
          to: saved.status,
          ...(suspendedKeys === undefined ? {} : { suspendedKeys }),
        });
      return saved;
    });
    // On every instance: a disabled user's sessions and keys stop working at once, and a new
    // role changes what they may do.
    await this.invalidations.publish({ kind: 'user', userId: updated.id });
    return suspendedKeys === undefined ? toUserDto(updated) : { ...toUserDto(updated), suspendedKeys };
  }

  /**
   * Takes a person out of the caller's tenant: the membership goes, and with it (by cascade)
   * their sessions, refresh tokens, links and personal keys there. Their other tenants, their
   * password and the person themself are untouched. Every instance hears of it at once.
   */
  async remove(actor: Principal, id: string): Promise<void> {
    const tenantId = actor.tenantId!;
    await this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(User);
      const owners = await repository.find({
        where: { tenantId, role: 'owner', status: 'active' },
        lock: { mode: 'pessimistic_write' },
      });
      const user = (await repository.findOne({ where: { tenantId, id }, relations: { person: true } })) as Membership;
      if (!user) throw notFound('User');
      this.assertMayManage(actor, user.role);
      if (user.role === 'owner' && user.status === 'active' && owners.every((owner) => owner.id === user.id))
        throw new AppException(HttpStatus.CONFLICT, 'LAST_OWNER', 'A tenant must keep at least one active owner');
      const keys: { count: string }[] = await manager.query(
        'SELECT count(*) AS count FROM api_keys WHERE tenant_id = $1 AND user_id = $2',
        [tenantId, user.id],
      );
      await this.sessions.revokeAllForUser(tenantId, user.id, 'user_removed', undefined, manager);
      await repository.delete({ tenantId, id: user.id });
      await this.audit.record(manager, {
        tenantId,
        actor: actorOf(actor),
        action: 'user.removed',
        target: { type: 'user', id: user.id },
        metadata: { email: user.person.email, role: user.role, deletedKeys: Number(keys[0].count) },
      });
    });
    // Sessions and key checks cached on any instance stop at once.
    await this.invalidations.publish({ kind: 'user', userId: id });
  }

  /** The user's keys that worked until now: not revoked, not past their grace, not expired. */
  private async countWorkingKeys(manager: EntityManager, tenantId: string, userId: string): Promise<number> {
    const rows: { count: string }[] = await manager.query(
      `SELECT count(*) AS count FROM api_keys k WHERE k.tenant_id = $1 AND k.user_id = $2 AND ${statusSql('holdsPlace', '$3')}`,
      [tenantId, userId, this.clock.now()],
    );
    return Number(rows[0].count);
  }

  private assertMayManage(actor: Principal, role: Role): void {
    if (actor.kind === 'admin') return; // the operator, in the console
    if (!actor.role || !MANAGEABLE_ROLES[actor.role].includes(role)) {
      throw new AppException(HttpStatus.FORBIDDEN, 'FORBIDDEN', `Your role may not manage ${role}s`);
    }
  }

  private async insertMembership(
    manager: EntityManager,
    person: Person,
    values: Pick<User, 'tenantId' | 'role' | 'status'>,
  ): Promise<Membership> {
    try {
      const repository = manager.getRepository(User);
      const user = await repository.save(repository.create({ ...values, personId: person.id }));
      return Object.assign(user, { person });
    } catch (error) {
      // Only the caller's own tenant (which it can list anyway) or the operator learns of a clash:
      // a membership elsewhere makes no difference to the answer.
      if (isUniqueViolation(error, 'users_person_id_tenant_id_key')) throw emailTaken();
      throw error;
    }
  }

  private inviteUrl(token: string): string {
    return `${this.config.publicUrl}/invite?token=${encodeURIComponent(token)}`;
  }
}
