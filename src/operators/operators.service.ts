import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ADMIN_ACTOR, AuditActor } from '../audit/dto/audit.dto';
import { PasswordService } from '../auth/password.service';
import { AppConfig } from '../config/app-config';
import { Principal } from '../common/auth/principal';
import { Clock } from '../common/clock';
import { safeEqual } from '../common/crypto/constant-time';
import type { ClientInfo } from '../common/http/client-info';
import { isUniqueViolation } from '../common/http/errors';
import { AppException } from '../common/http/problem';
import { Person } from '../people/person.entity';
import { OperatorEventsService } from './operator-events.service';
import { OperatorSessionsService } from './operator-sessions.service';

/** Key of the advisory lock that serialises adding operators ("OPER"), so two bootstraps cannot both pass. */
const LOCK_KEY = 0x4f504552;

export interface OperatorDto {
  id: string;
  email: string;
  createdAt: Date;
}

const operatorActor = (principal: Principal): AuditActor => ({ type: 'operator', id: principal.operatorId! });

/**
 * The people who run Keyward. The first is made once with ADMIN_TOKEN (the bootstrap); after
 * that only an operator adds operators, and ADMIN_TOKEN_RETIRED=true retires the token.
 */
@Injectable()
export class OperatorsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly passwords: PasswordService,
    private readonly events: OperatorEventsService,
    private readonly sessions: OperatorSessionsService,
  ) {}

  /** Whether the bootstrap is open: a token set and not retired, and no operator yet. */
  async bootstrapOpen(): Promise<boolean> {
    return Boolean(this.config.adminToken) && !this.config.adminTokenRetired && !(await this.anyOperator());
  }

  anyOperator(): Promise<boolean> {
    return this.dataSource.getRepository(Person).existsBy({ isOperator: true });
  }

  /** The token of a bootstrap form, checked like x-admin-token (constant time, retirement first). */
  assertAdminToken(given: string): void {
    if (this.config.adminTokenRetired)
      throw new AppException(
        HttpStatus.FORBIDDEN,
        'ADMIN_TOKEN_RETIRED',
        'ADMIN_TOKEN is retired (ADMIN_TOKEN_RETIRED=true)',
      );
    const expected = this.config.adminToken;
    if (!expected)
      throw new AppException(
        HttpStatus.FORBIDDEN,
        'ADMIN_DISABLED',
        'Admin routes are disabled: ADMIN_TOKEN is not set',
      );
    if (!safeEqual(given, expected))
      throw new AppException(HttpStatus.UNAUTHORIZED, 'ADMIN_TOKEN_INVALID', 'Missing or invalid admin token');
  }

  /**
   * The first operator, made by the holder of ADMIN_TOKEN (checked by the caller). Refused
   * once any operator exists: from then on operators add operators.
   */
  bootstrap(dto: { email: string; password: string }, client: ClientInfo): Promise<OperatorDto> {
    return this.createWithPassword(dto, client, ADMIN_ACTOR, true);
  }

  /**
   * An operator adds another. An address that already has an account (a tenant member, say)
   * becomes an operator and keeps its password; a new address needs a password, which the
   * new operator is told to change.
   */
  async add(by: Principal, dto: { email: string; password?: string }, client: ClientInfo): Promise<OperatorDto> {
    const email = dto.email.trim().toLowerCase();
    const existing = await this.dataSource.getRepository(Person).findOneBy({ email });
    if (!existing) {
      if (!dto.password)
        throw new AppException(HttpStatus.BAD_REQUEST, 'PASSWORD_REQUIRED', 'A new operator needs a first password');
      return this.createWithPassword({ email, password: dto.password }, client, operatorActor(by), false);
    }
    if (existing.isOperator)
      throw new AppException(HttpStatus.CONFLICT, 'ALREADY_OPERATOR', 'This person is already an operator');
    await this.dataSource.transaction(async (manager) => {
      await manager.getRepository(Person).update({ id: existing.id }, { isOperator: true });
      await this.events.record(manager, {
        actor: operatorActor(by),
        action: 'operator.added',
        target: { type: 'person', id: existing.id },
        client,
        metadata: { email, existingAccount: true },
      });
    });
    return { id: existing.id, email, createdAt: existing.createdAt };
  }

  async list(): Promise<OperatorDto[]> {
    const people = await this.dataSource
      .getRepository(Person)
      .find({ where: { isOperator: true }, order: { createdAt: 'ASC', id: 'ASC' } });
    return people.map((person) => ({ id: person.id, email: person.email, createdAt: person.createdAt }));
  }

  async get(id: string): Promise<OperatorDto | null> {
    const person = await this.dataSource.getRepository(Person).findOneBy({ id, isOperator: true });
    return person && { id: person.id, email: person.email, createdAt: person.createdAt };
  }

  async endSession(principal: Principal, client: ClientInfo): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await this.sessions.revoke(principal.sessionId!, 'logout', manager);
      await this.events.record(manager, {
        actor: operatorActor(principal),
        action: 'operator.signed_out',
        target: { type: 'operator_session', id: principal.sessionId! },
        client,
      });
    });
  }

  private async createWithPassword(
    dto: { email: string; password: string },
    client: ClientInfo,
    actor: AuditActor,
    bootstrap: boolean,
  ): Promise<OperatorDto> {
    const email = dto.email.trim().toLowerCase();
    this.passwords.assertAcceptable(dto.password, [email]);
    const passwordHash = await this.passwords.hash(dto.password);
    try {
      return await this.dataSource.transaction(async (manager) => {
        await manager.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
        if (bootstrap && (await manager.getRepository(Person).existsBy({ isOperator: true })))
          throw new AppException(
            HttpStatus.CONFLICT,
            'OPERATORS_EXIST',
            'An operator exists already: operators add operators in the console (/operator/operators)',
          );
        const person = await manager.getRepository(Person).save(
          manager.getRepository(Person).create({
            email,
            passwordHash,
            passwordChangedAt: this.clock.now(),
            emailVerifiedAt: null,
            isOperator: true,
          }),
        );
        await this.events.record(manager, {
          actor,
          action: 'operator.added',
          target: { type: 'person', id: person.id },
          client,
          metadata: { email, via: bootstrap ? 'bootstrap' : 'console' },
        });
        return { id: person.id, email, createdAt: person.createdAt };
      });
    } catch (error) {
      if (isUniqueViolation(error, 'people_email_key'))
        throw new AppException(
          HttpStatus.CONFLICT,
          'EMAIL_IN_USE',
          bootstrap
            ? 'This address already has an account; bootstrap the operator with another address'
            : 'This address already has an account',
        );
      throw error;
    }
  }
}
