import { DataSource } from 'typeorm';
import { ApiKeyVerifier } from '../src/api-keys/api-key-verifier.service';
import { KeyCache } from '../src/api-keys/key-cache';
import { KeyLookupRepository } from '../src/api-keys/key-lookup.repository';
import { directPoolOf } from '../src/database/data-source.factory';
import { adminHeaders, createTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';
import { describeOnPostgres } from './helpers/test-database';

/**
 * On PostgreSQL the key lookups of one turn of the event loop go out as one query: under load a
 * cache miss costs a share of a round trip. Each caller must still get its own key's row.
 */
describeOnPostgres('key lookups on PostgreSQL, batched', () => {
  let t: TestApp;
  let lookups: KeyLookupRepository;
  let hash: (key: string) => string;
  let query: jest.SpyInstance;
  const keys: { id: string; apiKey: string }[] = [];
  let verifier: string;

  beforeAll(async () => {
    t = await createTestApp();
    lookups = t.app.get(KeyLookupRepository);
    const format = t.app.get(ApiKeyVerifier).format;
    hash = (key) => format.hash(key);
    const tenant = await createTenant(t);
    for (let i = 0; i < 3; i++) {
      const res = await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId: tenant.id, name: `batch ${i}`, scopes: ['config:read'] })
        .expect(201);
      keys.push(res.body);
    }
    verifier = (
      await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId: tenant.id, name: 'verifier', scopes: ['keys:verify'] })
        .expect(201)
    ).body.apiKey;
    query = jest.spyOn(directPoolOf(t.app.get(DataSource))!, 'query');
  });
  afterEach(() => query.mockClear());
  afterAll(() => t?.close());

  it('answers the misses of one turn with one query, each with its own row, a repeated key read once', async () => {
    const unknown = 'f'.repeat(64);
    const asked = [keys[0], keys[1], keys[0], keys[2]].map((key) => hash(key.apiKey));
    const rows = await Promise.all([...asked, unknown].map((h) => lookups.findByHash(h)));
    expect(rows.map((row) => row?.id)).toEqual([keys[0].id, keys[1].id, keys[0].id, keys[2].id, undefined]);
    expect(query).toHaveBeenCalledTimes(1);
    expect((query.mock.calls[0][0] as { values: string[] }).values).toHaveLength(4); // 3 keys and the unknown one
  });

  it('splits a burst larger than one batch, and looks up again on the next turn', async () => {
    const burst = Array.from({ length: 70 }, (_, i) => (i === 69 ? hash(keys[1].apiKey) : `${i}`.padStart(64, '0')));
    const rows = await Promise.all(burst.map((h) => lookups.findByHash(h)));
    expect(rows.filter(Boolean).map((row) => row!.id)).toEqual([keys[1].id]);
    expect(query).toHaveBeenCalledTimes(2);
    await lookups.findByHash(hash(keys[2].apiKey));
    expect(query).toHaveBeenCalledTimes(3);
  });

  it('refuses every caller of a batch whose query failed, and the next batch works again', async () => {
    query.mockRejectedValueOnce(Object.assign(new Error('connection lost'), { code: '57P01' }));
    const failed = await Promise.allSettled(keys.map((key) => lookups.findByHash(hash(key.apiKey))));
    expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((await lookups.findByHash(hash(keys[0].apiKey)))?.id).toBe(keys[0].id);
  });

  it('answers concurrent verifies of cold keys each with its own key', async () => {
    t.app.get(KeyCache).clear();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        t.http
          .post('/v1/keys/verify')
          .set('x-api-key', verifier)
          .send({ key: keys[i % 3].apiKey }),
      ),
    );
    expect(answers.map((res) => res.status)).toEqual(answers.map(() => 200));
    expect(answers.map((res) => res.body.keyId)).toEqual(Array.from({ length: 30 }, (_, i) => keys[i % 3].id));
  });
});
