import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf, ADMIN_ACTOR } from '../audit/dto/audit.dto';
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
import { User } from './user.entity';
import { statusSql } from '../api-keys/key-policy';
import { Clock } from '../common/clock';
import { CreateUserDto, InviteUserDto, toUserDto, UpdateUserDto, UserDto } from './dto/users.dto';

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
  ) {}

  /** The operator creates a user; without a password it is invited and gets a one-time link. */
  async createByAdmin(tenantId: string, dto: CreateUserDto): Promise<UserDto & { inviteUrl?: string }> {
    if (!(await this.dataSource.getRepository(Tenant).existsBy({ id: tenantId }))) throw notFound('Tenant');
    if (dto.password !== undefined) this.passwords.assertAcceptable(dto.password, [dto.email]);
    const passwordHash = dto.password !== undefined ? await this.passwords.hash(dto.password) : null;
    return this.dataSource.transaction(async (manager) => {
      const user = await this.insertUser(manager, {
        tenantId,
        email: dto.email,
        role: dto.role,
        status: passwordHash ? 'active' : 'invited',
        passwordHash,
        passwordChangedAt: passwordHash ? new Date() : null,
      });
      await this.audit.record(manager, {
        tenantId,
        actor: ADMIN_ACTOR,
        action: 'user.created',
        target: { type: 'user', id: user.id },
        metadata: { email: user.email, role: user.role, status: user.status },
      });
      if (passwordHash) return toUserDto(user);
      const token = await this.tokens.issue('invitation', user, null, manager);
      return { ...toUserDto(user), inviteUrl: this.inviteUrl(token) };
    });
  }

  /** An owner or admin invites someone by email. */
  async invite(actor: Principal, dto: InviteUserDto): Promise<UserDto> {
    this.assertMayManage(actor, dto.role);
    const { user, token } = await this.dataSource.transaction(async (manager) => {
      const user = await this.insertUser(manager, {
        tenantId: actor.tenantId!,
        email: dto.email,
        role: dto.role,
        status: 'invited',
        passwordHash: null,
        passwordChangedAt: null,
      });
      await this.audit.record(manager, {
        tenantId: actor.tenantId!,
        actor: actorOf(actor),
        action: 'user.invited',
        target: { type: 'user', id: user.id },
        metadata: { email: user.email, role: user.role },
      });
      return { user, token: await this.tokens.issue('invitation', user, actor.userId ?? null, manager) };
    });
    const tenant = await this.dataSource.getRepository(Tenant).findOneByOrFail({ id: actor.tenantId! });
    this.mail.sendInBackground({
      to: user.email,
      subject: `You are invited to ${tenant.name} on Keyward`,
      text: `You have been invited to join ${tenant.name} as ${user.role}.\n\nSet your password here (the link works once, for 7 days):\n${this.inviteUrl(token)}\n`,
    });
    return toUserDto(user);
  }

  async list(tenantId: string): Promise<UserDto[]> {
    const users = await this.dataSource
      .getRepository(User)
      .find({ where: { tenantId }, order: { createdAt: 'ASC', id: 'ASC' } });
    return users.map(toUserDto);
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
      const user = await repository.findOneBy({ tenantId, id });
      if (!user) throw notFound('User');
      this.assertMayManage(actor, user.role);
      if (dto.role) this.assertMayManage(actor, dto.role);
      if (dto.role && dto.role !== user.role) await this.stepUp.assertFresh(actor, manager);
      if (dto.status === 'active' && !user.passwordHash)
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
      const saved = await repository.save(user);
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

  /** The user's keys that worked until now: not revoked, not past their grace, not expired. */
  private async countWorkingKeys(manager: EntityManager, tenantId: string, userId: string): Promise<number> {
    const rows: { count: string }[] = await manager.query(
      `SELECT count(*) AS count FROM api_keys k WHERE k.tenant_id = $1 AND k.user_id = $2 AND ${statusSql('holdsPlace', '$3')}`,
      [tenantId, userId, this.clock.now()],
    );
    return Number(rows[0].count);
  }

  private assertMayManage(actor: Principal, role: Role): void {
    if (!actor.role || !MANAGEABLE_ROLES[actor.role].includes(role)) {
      throw new AppException(HttpStatus.FORBIDDEN, 'FORBIDDEN', `Your role may not manage ${role}s`);
    }
  }

  private async insertUser(manager: EntityManager, values: Partial<User>): Promise<User> {
    try {
      return await manager.getRepository(User).save(manager.getRepository(User).create(values));
    } catch (error) {
      // Only the caller's own tenant (which it can list anyway) or the operator learns of a clash:
      // an invitation claims nothing service-wide, so it cannot hit another tenant's account.
      if (isUniqueViolation(error, 'users_tenant_id_email_key') || isUniqueViolation(error, 'users_email_key')) {
        throw new AppException(HttpStatus.CONFLICT, 'EMAIL_TAKEN', 'A user with this email already exists');
      }
      throw error;
    }
  }

  private inviteUrl(token: string): string {
    return `${this.config.publicUrl}/invite?token=${encodeURIComponent(token)}`;
  }
}
