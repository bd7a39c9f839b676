import { DataSource } from 'typeorm';
import { ApiKeyVerifier } from '../src/api-keys/api-key-verifier.service';
import { KEY_BY_HASH, KeyLookupRepository } from '../src/api-keys/key-lookup.repository';
import { KeyGrantsRepository } from '../src/permissions/key-grants.repository';
import { tenantWithRoles } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Rows of `relation` that the executed plan read (returned or filtered out), over all its loops. */
function rowsRead(node: PlanNode, relation: string): number {
  const own =
    node['Relation Name'] === relation
      ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops']
      : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child, relation), 0);
}

/**
 * A key's effective permissions (its own and its roles') are read from its grants, so a cold
 * lookup costs the same in a tenant with thousands of permissions and roles as in one with three.
 */
describe('effective permissions of a key, in a tenant with many permissions and roles', () => {
  const MANY = 5_000;
  let t: TestApp;
  let dataSource: DataSource;
  let key: { id: string; apiKey: string };
  let tenantId: string;
  let keyHash: string;

  const plan = async (sql: string, params: unknown[]): Promise<PlanNode> => {
    const [row] = (await dataSource.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params)) as {
      'QUERY PLAN': [{ Plan: PlanNode }] | string;
    }[];
    const document = row['QUERY PLAN'];
    return (typeof document === 'string' ? JSON.parse(document) : document)[0].Plan;
  };

  beforeAll(async () => {
    t = await createTestApp();
    dataSource = t.app.get(DataSource);
    const { owner, tenant } = await tenantWithRoles(t);
    for (const name of ['orders.read', 'refunds.create'])
      await t.http.post('/v1/permissions').set(owner.auth).send({ name }).expect(201);
    await t.http
      .post('/v1/roles')
      .set(owner.auth)
      .send({ name: 'support', permissions: ['orders.read', 'refunds.create'] })
      .expect(201);
    key = (
      await t.http
        .post('/v1/api-keys')
        .set(owner.auth)
        .send({ name: 'support bot', scopes: ['config:read'], permissions: ['orders.read'], roles: ['support'] })
        .expect(201)
    ).body;
    tenantId = tenant.id;
    await dataSource.query(
      `INSERT INTO permissions (tenant_id, name) SELECT $1, 'bulk.' || i FROM generate_series(1, $2::int) i`,
      [tenant.id, MANY],
    );
    await dataSource.query(
      `INSERT INTO roles (tenant_id, name) SELECT $1, 'bulk-' || i FROM generate_series(1, $2::int) i`,
      [tenant.id, MANY],
    );
    await dataSource.query('ANALYZE permissions, roles');
    keyHash = t.app.get(ApiKeyVerifier).format.hash(key.apiKey);
  });
  afterAll(() => t?.close());

  it('the cold lookup names each permission once, sorted, and reads only the permissions and roles the key has', async () => {
    const row = await t.app.get(KeyLookupRepository).findByHash(keyHash);
    expect(row).toMatchObject({ permissions: ['orders.read', 'refunds.create'], roles: ['support'] });
    // Read before: every row of the tenant's permissions, for every lookup.
    const executed = await plan(KEY_BY_HASH, [keyHash]);
    expect(rowsRead(executed, 'permissions')).toBeLessThanOrEqual(10);
    expect(rowsRead(executed, 'roles')).toBeLessThanOrEqual(10);
  });

  it('so does the effective-permissions query that checks what a key may hand out', async () => {
    const grants = new KeyGrantsRepository(dataSource.manager);
    const query = jest.spyOn(dataSource.manager, 'query');
    try {
      expect(await grants.effectiveOf(tenantId, key.id)).toEqual(['orders.read', 'refunds.create']);
      const [sql, params] = query.mock.calls[0] as [string, unknown[]];
      expect(rowsRead(await plan(sql, params), 'permissions')).toBeLessThanOrEqual(10);
    } finally {
      query.mockRestore();
    }
  });
});
