import { DataSource } from 'typeorm';
import { KeyUsageService } from '../src/api-keys/key-usage.service';
import { createTestApp, TestApp } from './helpers/test-app';
import { adminHeaders, createTenant } from './helpers/identity';
import { sharedDatabase } from './helpers/test-database';

/** Key use is counted in memory and written in batches: none per request, all of it at shutdown. */
describe('key usage accounting', () => {
  let database: Awaited<ReturnType<typeof sharedDatabase>>;
  let app: TestApp | undefined;

  beforeAll(async () => {
    database = await sharedDatabase();
  });
  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await database.drop();
  });

  it('writes nothing per request and flushes the counts when the service stops', async () => {
    app = await createTestApp({ reuseDatabase: database.reuseDatabase });
    // Stop the periodic flush so only the requests themselves could have written.
    app.app.get(KeyUsageService).onModuleDestroy();
    const tenant = await createTenant(app);
    const created = await app.http
      .post('/admin/api-keys')
      .set(adminHeaders)
      .send({ tenantId: tenant.id, scopes: ['config:read'] })
      .expect(201);
    const usage = async (t: TestApp) =>
      (
        await t.app
          .get(DataSource)
          .query('SELECT usage_count::int AS count, last_used_at FROM api_keys WHERE id = $1 AND tenant_id = $2', [
            created.body.id,
            tenant.id,
          ])
      )[0];

    for (let i = 0; i < 25; i++) await app.http.get('/config').set('x-api-key', created.body.apiKey).expect(200);
    expect(await usage(app)).toEqual({ count: 0, last_used_at: null });

    await app.close();
    app = await createTestApp({ reuseDatabase: database.reuseDatabase });
    const after = await usage(app);
    expect(after.count).toBe(25);
    expect(after.last_used_at).not.toBeNull();
  });

  it("counts a use only against the key of the tenant it was verified for, never another tenant's row", async () => {
    await app?.close();
    app = await createTestApp({ reuseDatabase: database.reuseDatabase });
    const usageService = app.app.get(KeyUsageService);
    usageService.onModuleDestroy();
    const [tenant, other] = [await createTenant(app), await createTenant(app)];
    const created = await app.http
      .post('/admin/api-keys')
      .set(adminHeaders)
      .send({ tenantId: tenant.id, scopes: ['config:read'] })
      .expect(201);
    const dataSource = app.app.get(DataSource);
    const counted = async () => ({
      count: (
        await dataSource.query('SELECT usage_count::int AS count FROM api_keys WHERE id = $1 AND tenant_id = $2', [
          created.body.id,
          tenant.id,
        ])
      )[0].count,
      buckets: await dataSource.query(
        'SELECT tenant_id, success::int AS success FROM key_usage WHERE api_key_id = $1 AND tenant_id IN ($2, $3)',
        [created.body.id, tenant.id, other.id],
      ),
    });
    usageService.record({ id: created.body.id, tenantId: other.id }, Date.now());
    usageService.recordDenied({ id: created.body.id, tenantId: other.id }, 'RATE_LIMITED', Date.now());
    await usageService.flush();
    expect(await counted()).toEqual({ count: 0, buckets: [] });

    usageService.record({ id: created.body.id, tenantId: tenant.id }, Date.now());
    await usageService.flush();
    expect(await counted()).toEqual({ count: 1, buckets: [{ tenant_id: tenant.id, success: 1 }] });
  });
});
