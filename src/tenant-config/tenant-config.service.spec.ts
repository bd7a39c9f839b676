import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { Principal } from '../common/auth/principal';
import type { AppConfig } from '../config/app-config';
import type { InvalidationBus, InvalidationListener } from '../invalidation/invalidation.bus';
import type { StepUpService } from '../mfa/step-up.service';
import { ConfigEntry } from './config-entry.entity';
import { ConfigDocument, TenantConfigService } from './tenant-config.service';

const TENANT = '6f1c3d0e-0000-4000-8000-000000000001';
const reader: Principal = { kind: 'apiKey', tenantId: TENANT, apiKeyId: 'k1', scopes: ['config:read'] };

function entry(key: string, value: unknown): ConfigEntry {
  return Object.assign(new ConfigEntry(), { tenantId: TENANT, key, value, secret: false, encrypted: null });
}

/** The service over a fake repository whose reads the test releases one at a time. */
function setUp() {
  const reads: { resolve: (rows: ConfigEntry[]) => void }[] = [];
  const find = jest.fn(() => new Promise<ConfigEntry[]>((resolve) => reads.push({ resolve })));
  const dataSource = { getRepository: () => ({ find }) } as unknown as DataSource;
  let listener: InvalidationListener = () => undefined;
  const lifetime = { ms: 60_000 };
  const invalidations = {
    subscribe: (l: InvalidationListener) => (listener = l),
    cacheTtl: (ttl: number) => Math.min(ttl, lifetime.ms),
  } as unknown as InvalidationBus;
  const config = { configEncryptionKey: randomBytes(32), keyCacheTtlSeconds: 60 } as AppConfig;
  const service = new TenantConfigService(dataSource, invalidations, config, {} as AuditService, {} as StepUpService);
  return { service, find, reads, lifetime, changed: () => listener({ kind: 'config', tenantId: TENANT }) };
}

describe('TenantConfigService.document', () => {
  it('builds once, then answers synchronously with the same serialized document', async () => {
    const { service, find, reads } = setUp();
    const first = service.document(reader);
    expect(first).toBeInstanceOf(Promise);
    reads[0].resolve([entry('region', 'eu'), entry('retries', 3)]);
    const built = await first;
    expect(JSON.parse(built.json)).toEqual({ region: 'eu', retries: 3 });
    expect(built.etag).toMatch(/^"[\w-]{32}"$/);

    const cached = service.document(reader);
    expect(cached).not.toBeInstanceOf(Promise);
    expect(cached).toBe(built);
    expect(find).toHaveBeenCalledTimes(1);
  });

  it('does not keep a document whose build was under way when the configuration changed', async () => {
    const { service, find, reads, changed } = setUp();
    const stale = service.document(reader);
    changed();
    const fresh = service.document(reader);
    expect(find).toHaveBeenCalledTimes(2);
    reads[1].resolve([entry('region', 'us')]);
    await fresh;
    // The older read finishes last, with the value from before the change.
    reads[0].resolve([entry('region', 'eu')]);
    await stale;
    const served = service.document(reader) as ConfigDocument;
    expect(JSON.parse(served.json)).toEqual({ region: 'us' });
    expect(find).toHaveBeenCalledTimes(2);
  });

  it('forgets a build that failed, so the next request tries again', async () => {
    const { service, find } = setUp();
    find.mockRejectedValueOnce(new Error('database unavailable'));
    await expect(service.document(reader)).rejects.toThrow('database unavailable');
    find.mockResolvedValueOnce([entry('region', 'eu')]);
    expect(JSON.parse((await service.document(reader)).json)).toEqual({ region: 'eu' });
  });

  describe('lifetime', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('rebuilds a document once it is as old as a cached key may be, even when no change was heard', async () => {
      const { service, find, reads, lifetime } = setUp();
      lifetime.ms = 2_000;
      const first = service.document(reader);
      reads[0].resolve([entry('region', 'eu')]);
      await first;
      jest.advanceTimersByTime(1_999);
      expect(service.document(reader)).not.toBeInstanceOf(Promise);
      jest.advanceTimersByTime(1);
      const rebuilt = service.document(reader);
      expect(rebuilt).toBeInstanceOf(Promise);
      reads[1].resolve([entry('region', 'us')]);
      expect(JSON.parse((await rebuilt).json)).toEqual({ region: 'us' });
      expect(find).toHaveBeenCalledTimes(2);
    });

    it('caches nothing while its lifetime is 0', async () => {
      const { service, find, reads, lifetime } = setUp();
      lifetime.ms = 0;
      const first = service.document(reader);
      reads[0].resolve([entry('region', 'eu')]);
      await first;
      expect(service.document(reader)).toBeInstanceOf(Promise);
      expect(find).toHaveBeenCalledTimes(2);
    });
  });
});
