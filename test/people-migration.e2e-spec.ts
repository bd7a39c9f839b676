import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MigrationInterface, QueryRunner } from 'typeorm';
import { MIGRATIONS } from '../migrations';
import { People1795334000000 } from '../migrations/1795334000000-People';
import { OpenDatabase, openDatabase } from '../src/database/data-source.factory';

/** The People migration, on a database with users made by the schema before it. */
describe('migration to people and memberships', () => {
  let dir: string;
  let database: OpenDatabase;
  // The embedded database has one connection: everything goes through this runner.
  let runner: QueryRunner;
  const query = (sql: string, params: unknown[] = []) => runner.query(sql, params);
  const step = (migration: Function) => new (migration as new () => MigrationInterface)();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyward-people-migration-'));
    database = await openDatabase({ embeddedDir: join(dir, 'pglite') }, false);
    runner = database.dataSource.createQueryRunner();
    for (const migration of MIGRATIONS.slice(0, MIGRATIONS.indexOf(People1795334000000)))
      await step(migration).up(runner);
  });
  afterAll(async () => {
    await runner.release();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes every user a person with one membership; one address in several tenants is one person with its password', async () => {
    const [a] = await query(`INSERT INTO tenants (name, slug) VALUES ('A', 'a') RETURNING id`);
    const [b] = await query(`INSERT INTO tenants (name, slug) VALUES ('B', 'b') RETURNING id`);
    const changed = new Date('2026-01-02T03:04:05Z');
    const insert = async (tenant: string, email: string, status: string, hash: string | null) =>
      (
        await query(
          `INSERT INTO users (tenant_id, email, role, status, password_hash, password_changed_at)
           VALUES ($1, $2, 'member', $3, $4, $5) RETURNING id`,
          [tenant, email, status, hash, hash ? changed : null],
        )
      )[0].id as string;
    const adaInA = await insert(a.id, 'ada@example.com', 'invited', null);
    const adaInB = await insert(b.id, 'ada@example.com', 'active', '$argon2id$ada');
    const bob = await insert(a.id, 'bob@example.com', 'active', '$argon2id$bob');
    const carol = await insert(b.id, 'carol@example.com', 'invited', null);

    await step(People1795334000000).up(runner);

    const people = await query(
      'SELECT email, password_hash, password_changed_at, email_verified_at, is_operator FROM people ORDER BY email',
    );
    expect(people).toEqual([
      {
        email: 'ada@example.com',
        password_hash: '$argon2id$ada',
        password_changed_at: changed,
        email_verified_at: null,
        is_operator: false,
      },
      {
        email: 'bob@example.com',
        password_hash: '$argon2id$bob',
        password_changed_at: changed,
        email_verified_at: null,
        is_operator: false,
      },
      {
        email: 'carol@example.com',
        password_hash: null,
        password_changed_at: null,
        email_verified_at: null,
        is_operator: false,
      },
    ]);
    const memberships = await query(
      'SELECT u.id, u.tenant_id, u.status, p.email FROM users u JOIN people p ON p.id = u.person_id ORDER BY u.id',
    );
    expect(memberships).toHaveLength(4);
    const byId = new Map(memberships.map((m: { id: string }) => [m.id, m]));
    expect(byId.get(adaInA)).toMatchObject({ tenant_id: a.id, status: 'invited', email: 'ada@example.com' });
    expect(byId.get(adaInB)).toMatchObject({ tenant_id: b.id, status: 'active', email: 'ada@example.com' });
    expect(byId.get(bob)).toMatchObject({ email: 'bob@example.com' });
    expect(byId.get(carol)).toMatchObject({ email: 'carol@example.com' });
    // One person, two memberships; the same person cannot be in a tenant twice.
    const [{ count }] = await query(
      "SELECT count(DISTINCT person_id)::int AS count FROM users u JOIN people p ON p.id = u.person_id WHERE p.email = 'ada@example.com'",
    );
    expect(count).toBe(1);
    await expect(
      query(
        `INSERT INTO users (tenant_id, person_id, role) SELECT tenant_id, person_id, 'viewer' FROM users WHERE id = $1`,
        [adaInA],
      ),
    ).rejects.toThrow(/users_person_id_tenant_id_key/);

    // And back: each user keeps their address, and the password returns to the active membership.
    await step(People1795334000000).down(runner);
    const users = await query('SELECT id, email, password_hash FROM users ORDER BY id');
    expect(new Map(users.map((u: { id: string }) => [u.id, u]))).toEqual(
      new Map([
        [adaInA, { id: adaInA, email: 'ada@example.com', password_hash: null }],
        [adaInB, { id: adaInB, email: 'ada@example.com', password_hash: '$argon2id$ada' }],
        [bob, { id: bob, email: 'bob@example.com', password_hash: '$argon2id$bob' }],
        [carol, { id: carol, email: 'carol@example.com', password_hash: null }],
      ]),
    );
  });
});
