import { KeywardClient, KeywardError, VerifyKeyResult } from '../src';
import { closedPortUrl, Service, silentServer, startService } from './service';

/** `valid code` of an answer, for compact tables. */
const verdict = (answer: VerifyKeyResult) => `${answer.valid} ${answer.code}`;

describe('KeywardClient against the real service', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService();
  });
  afterAll(() => service?.close());

  const client = (options: Partial<ConstructorParameters<typeof KeywardClient>[0]> = {}) =>
    new KeywardClient({ baseUrl: service.url, apiKey: service.verifier.apiKey, ...options });

  it('answers a valid key with its identity, and refuses malformed, empty, over-long and under-scoped keys', async () => {
    const key = await service.issue({ scopes: ['config:read', 'keys:read'] });
    const kw = client();
    expect(await kw.verifyKey(key.apiKey, { requiredScopes: ['config:read'] })).toEqual({
      valid: true,
      code: 'VALID',
      keyId: key.id,
      tenantId: service.tenantId,
      ownerId: null,
      scopes: ['config:read', 'keys:read'],
      expiresAt: null,
      ratelimits: [expect.objectContaining({ name: 'default', remaining: expect.any(Number) })],
      remaining: null,
      identity: null,
    });
    const badChecksum = key.apiKey.replace(/^(kw_)(.)/, (_m, prefix, first) => prefix + (first === 'A' ? 'B' : 'A'));
    expect({
      'bad checksum': verdict(await kw.verifyKey(badChecksum)),
      malformed: verdict(await kw.verifyKey('kw_not-a-key')),
      empty: verdict(await kw.verifyKey('')),
      'too long': verdict(await kw.verifyKey('k'.repeat(257))),
      'missing scope': verdict(await kw.verifyKey(key.apiKey, { requiredScopes: ['config:write'] })),
    }).toEqual({
      'bad checksum': 'false KEY_MALFORMED',
      malformed: 'false KEY_MALFORMED',
      empty: 'false KEY_MISSING',
      'too long': 'false KEY_MALFORMED',
      'missing scope': 'false INSUFFICIENT_SCOPE',
    });
    const missingScope = await kw.verifyKey(key.apiKey, { requiredScopes: ['config:write'] });
    expect(missingScope).toMatchObject({ keyId: key.id, scopes: ['config:read', 'keys:read'] });
  });

  it("refuses another tenant's key with KEY_NOT_FOUND, as if it did not exist", async () => {
    const foreign = await service.issue({ tenantId: await service.otherTenant() });
    expect(verdict(await client().verifyKey(foreign.apiKey))).toBe('false KEY_NOT_FOUND');
  });

  it('honours a revocation after the cache TTL, and at once with the cache off', async () => {
    let now = 1_000_000;
    const cached = client({ cacheTtlMs: 10_000, now: () => now });
    const uncached = client({ cacheTtlMs: 0 });
    const key = await service.issue();
    expect(verdict(await cached.verifyKey(key.apiKey))).toBe('true VALID');
    expect(verdict(await uncached.verifyKey(key.apiKey))).toBe('true VALID');

    await service.revoke(key);
    expect(verdict(await uncached.verifyKey(key.apiKey))).toBe('false KEY_REVOKED');
    now += 9_999;
    expect(verdict(await cached.verifyKey(key.apiKey))).toBe('true VALID');
    now += 1;
    expect(verdict(await cached.verifyKey(key.apiKey))).toBe('false KEY_REVOKED');
  });

  it('never caches a refusal, and caches per set of required scopes', async () => {
    const key = await service.issue({ scopes: ['config:read'] });
    const kw = client({ cacheTtlMs: 60_000 });
    expect(verdict(await kw.verifyKey(key.apiKey, { requiredScopes: ['config:read'] }))).toBe('true VALID');
    expect(verdict(await kw.verifyKey(key.apiKey, { requiredScopes: ['keys:read'] }))).toBe('false INSUFFICIENT_SCOPE');
    expect(verdict(await kw.verifyKey(key.apiKey, { requiredScopes: ['config:read', 'config:read'] }))).toBe(
      'true VALID',
    );
    // Only the one valid answer is kept, under a digest: the key itself is nowhere in the cache.
    const entries = [...(kw as unknown as { cache: { entries: Map<string, unknown> } }).cache.entries.keys()];
    expect(entries).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
  });

  it('refuses a rate-limited key with RATE_LIMITED once its limit is spent', async () => {
    const key = await service.issue({ rateLimit: { limit: 2, windowSeconds: 3600 } });
    const kw = client({ cacheTtlMs: 0 });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(verdict(await kw.verifyKey(key.apiKey)));
    expect(answers).toEqual(['true VALID', 'true VALID', 'false RATE_LIMITED']);
  });

  it('asks the service once for a burst of the same key', async () => {
    const key = await service.issue();
    let calls = 0;
    const kw = client({ fetch: (input, init) => (calls++, fetch(input, init)) });
    const answers = await Promise.all([1, 2, 3, 4].map(() => kw.verifyKey(key.apiKey)));
    expect(answers.map(verdict)).toEqual(Array(4).fill('true VALID'));
    expect(calls).toBe(1);
  });

  it("throws the service's error when the client's own key may not verify", async () => {
    const noVerify = await service.issue({ scopes: ['config:read'] });
    const key = await service.issue();
    const refused = await client({ apiKey: noVerify.apiKey })
      .verifyKey(key.apiKey)
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(KeywardError);
    expect(refused).toMatchObject({
      status: 403,
      code: 'INSUFFICIENT_SCOPE',
      body: { statusCode: 403, error: 'Forbidden', code: 'INSUFFICIENT_SCOPE', message: expect.any(String) },
    });
    expect((refused as KeywardError).requestId).toEqual(expect.any(String));

    await service.revoke(noVerify);
    await expect(client({ apiKey: noVerify.apiKey }).verifyKey(key.apiKey)).rejects.toMatchObject({
      status: 401,
      code: 'KEY_REVOKED',
    });
  });

  it('fails with KEYWARD_TIMEOUT or KEYWARD_UNREACHABLE when the service does not answer', async () => {
    const silent = await silentServer();
    try {
      const slow = new KeywardClient({ baseUrl: silent.url, apiKey: 'kw_x', timeoutMs: 50 });
      await expect(slow.verifyKey('kw_anything')).rejects.toMatchObject({ code: 'KEYWARD_TIMEOUT' });
    } finally {
      await silent.close();
    }
    const gone = new KeywardClient({ baseUrl: await closedPortUrl(), apiKey: 'kw_x' });
    await expect(gone.verifyKey('kw_anything')).rejects.toMatchObject({ code: 'KEYWARD_UNREACHABLE' });
  });
});
