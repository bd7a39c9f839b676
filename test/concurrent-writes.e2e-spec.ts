import { SCOPES } from '../src/common/auth/scopes';
import { adminHeaders, createTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

/**
 * Writers of one tenant at the same time: key creation locks the tenant row, and every write
 * appends to the tenant's audit chain. Taken in different orders these deadlocked on
 * PostgreSQL ("deadlock detected", a 500) under concurrent key creation and config changes.
 */
describe('concurrent writes in one tenant', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('key creations and config changes side by side all succeed', async () => {
    const tenant = await createTenant(t);
    await t.http
      .patch(`/admin/tenants/${tenant.id}`)
      .set(adminHeaders)
      .send({ maxKeysPerTenant: 10_000, maxKeysPerUser: 10_000 })
      .expect(200);
    const manager = (
      await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId: tenant.id, scopes: [...SCOPES], rateLimit: { limit: 10_000, windowSeconds: 1 } })
        .expect(201)
    ).body.apiKey;
    const headers = { 'x-api-key': manager };
    for (let i = 0; i < 4; i++)
      await t.http.put(`/v1/config/entries/e${i}`).set(headers).send({ value: 0 }).expect(200);
    const statuses: number[] = [];
    for (let round = 0; round < 5; round++) {
      const requests = Array.from({ length: 12 }, (_, i) =>
        i % 2 === 0
          ? t.http
              .post('/v1/api-keys')
              .set(headers)
              .send({ name: `k${round}-${i}` })
          : t.http
              .put(`/v1/config/entries/e${i % 4}`)
              .set(headers)
              .send({ value: round }),
      );
      statuses.push(...(await Promise.all(requests)).map((res) => res.status));
    }
    expect(statuses.filter((status) => status >= 300)).toEqual([]);
  });
});
