import { randomBytes } from 'node:crypto';
import { Role } from '../../src/common/auth/principal';
import { TEST_ADMIN_TOKEN, TestApp } from './test-app';

/** Strong enough for the password policy; every user gets its own variant. */
export const strongPassword = () => `violet tractor ${randomBytes(4).toString('hex')} umbrella`;

export const adminHeaders = { 'x-admin-token': TEST_ADMIN_TOKEN };

export interface TestTenant {
  id: string;
  name: string;
  slug: string;
}

export interface TestUser {
  id: string;
  tenantId: string;
  email: string;
  role: Role;
  password: string;
}

export interface SignedIn extends TestUser {
  accessToken: string;
  refreshToken: string;
  /** Headers that authenticate as this user. */
  auth: { authorization: string };
}

const unique = () => randomBytes(4).toString('hex');

export async function createTenant(t: TestApp, name = `Tenant ${unique()}`): Promise<TestTenant> {
  const res = await t.http.post('/admin/tenants').set(adminHeaders).send({ name }).expect(201);
  return res.body;
}

export async function createUser(
  t: TestApp,
  tenantId: string,
  role: Role,
  email = `${role}-${unique()}@example.com`,
): Promise<TestUser> {
  const password = strongPassword();
  const res = await t.http
    .post(`/admin/tenants/${tenantId}/users`)
    .set(adminHeaders)
    .send({ email, role, password })
    .expect(201);
  return { id: res.body.id, tenantId, email: res.body.email, role, password };
}

export async function login(
  t: TestApp,
  email: string,
  password: string,
): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await t.http.post('/auth/login').send({ email, password }).expect(200);
  return res.body;
}

export async function signIn(t: TestApp, user: TestUser): Promise<SignedIn> {
  const tokens = await login(t, user.email, user.password);
  return { ...user, ...tokens, auth: { authorization: `Bearer ${tokens.accessToken}` } };
}

/** A tenant with a signed-in user of each role. */
export async function tenantWithRoles(t: TestApp): Promise<{ tenant: TestTenant } & Record<Role, SignedIn>> {
  const tenant = await createTenant(t);
  const [owner, admin, member, viewer] = await Promise.all(
    (['owner', 'admin', 'member', 'viewer'] as Role[]).map(async (role) =>
      signIn(t, await createUser(t, tenant.id, role)),
    ),
  );
  return { tenant, owner, admin, member, viewer };
}
