import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Role } from '../common/auth/principal';
import type { UserStatus } from '../users/user.entity';
import { Person } from './person.entity';

/** One of a person's memberships, with what a tenant chooser shows of its tenant. */
export interface MembershipSummary {
  userId: string;
  tenantId: string;
  tenantName: string;
  role: Role;
  status: UserStatus;
  /** Whether it can be signed in to now: the membership and its tenant are active. */
  usable: boolean;
  lastLoginAt: Date | null;
}

@Injectable()
export class PeopleService {
  constructor(private readonly dataSource: DataSource) {}

  findByEmail(email: string, manager: EntityManager = this.dataSource.manager): Promise<Person | null> {
    return manager.getRepository(Person).findOneBy({ email });
  }

  findById(id: string, manager: EntityManager = this.dataSource.manager): Promise<Person | null> {
    return manager.getRepository(Person).findOneBy({ id });
  }

  /**
   * The person of this address, created without a password when there is none. One statement
   * either way, so an invitation takes the same time whether the address was known or not.
   */
  async findOrCreate(manager: EntityManager, email: string): Promise<Person> {
    const rows: { id: string }[] = await manager.query(
      `INSERT INTO people (email) VALUES ($1)
       ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
       RETURNING id`,
      [email],
    );
    return manager.getRepository(Person).findOneByOrFail({ id: rows[0].id });
  }

  /** Every membership of the person, the most recently used first. */
  async memberships(personId: string, manager: EntityManager = this.dataSource.manager): Promise<MembershipSummary[]> {
    const rows: {
      user_id: string;
      tenant_id: string;
      tenant_name: string;
      role: Role;
      status: UserStatus;
      usable: boolean;
      last_login_at: Date | null;
    }[] = await manager.query(
      `SELECT u.id AS user_id, u.tenant_id, t.name AS tenant_name, u.role, u.status, u.last_login_at,
              (u.status = 'active' AND t.status = 'active') AS usable
         FROM users u JOIN tenants t ON t.id = u.tenant_id
        WHERE u.person_id = $1
        ORDER BY u.last_login_at DESC NULLS LAST, u.created_at, u.id`,
      [personId],
    );
    return rows.map((row) => ({
      userId: row.user_id,
      tenantId: row.tenant_id,
      tenantName: row.tenant_name,
      role: row.role,
      status: row.status,
      usable: row.usable,
      lastLoginAt: row.last_login_at,
    }));
  }
}
