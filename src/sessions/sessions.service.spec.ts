import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { Clock } from '../common/clock';
import type { AppConfig } from '../config/app-config';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import type { SessionKind } from './session.entity';
import { SessionsService } from './sessions.service';

const TENANT = '6f1c3d0e-0000-4000-8000-000000000001';
const SESSION = '6f1c3d0e-0000-4000-8000-0000000000a1';
const NOW = new Date('2030-01-01T00:00:00Z');

/** The service over a fake database holding one live session of the given kind. */
function setUp(kind: SessionKind) {
  const row = {
    id: SESSION,
    tenant_id: TENANT,
    user_id: 'u1',
    role: 'member',
    last_seen_at: NOW,
    expires_at: new Date(NOW.getTime() + 3_600_000),
    idle_timeout_seconds: null,
  };
  let hold: Promise<void> | undefined;
  // The real query filters on the kind ($3), as this one does.
  const query = jest.fn(async (_sql: string, params: unknown[]) => {
    await hold;
    return params[2] === kind ? [row] : [];
  });
  const dataSource = { query, options: {} } as unknown as DataSource;
  const bus = new InvalidationBus(dataSource, {} as AppConfig);
  const clock = { now: () => NOW } as Clock;
  const service = new SessionsService(dataSource, {} as AppConfig, clock, {} as AuditService, bus);
  return { service, query, bus, holdQueries: (until: Promise<void>) => (hold = until) };
}

describe('SessionsService.principalForSession', () => {
  it('caches a check for the kind it was made for only: an API session does not pass as a dashboard one', async () => {
    const { service, query } = setUp('api');
    expect((await service.principalForSession(TENANT, SESSION, 'api'))?.sessionId).toBe(SESSION);
    expect(await service.principalForSession(TENANT, SESSION, 'api')).not.toBeNull();
    expect(query).toHaveBeenCalledTimes(1);
    expect(await service.principalForSession(TENANT, SESSION, 'dashboard')).toBeNull();
  });

  it('and a dashboard session does not pass as an API one', async () => {
    const { service } = setUp('dashboard');
    expect(await service.principalForSession(TENANT, SESSION, 'dashboard')).not.toBeNull();
    expect(await service.principalForSession(TENANT, SESSION, 'api')).toBeNull();
  });

  it('asks again once the session, its user or its tenant changed', async () => {
    const { service, query, bus } = setUp('api');
    for (const change of [
      { kind: 'session', sessionId: SESSION },
      { kind: 'user', userId: 'u1' },
      { kind: 'tenant', tenantId: TENANT },
    ] as const) {
      await service.principalForSession(TENANT, SESSION, 'api');
      const asked = query.mock.calls.length;
      await bus.publish(change);
      await service.principalForSession(TENANT, SESSION, 'api');
      expect(query.mock.calls.length).toBe(asked + 1);
    }
  });

  it('does not cache a check that a change overtook (it may have read the session before it ended)', async () => {
    const { service, query, bus, holdQueries } = setUp('api');
    let release!: () => void;
    holdQueries(new Promise<void>((resolve) => (release = resolve)));
    const inFlight = service.principalForSession(TENANT, SESSION, 'api');
    await bus.publish({ kind: 'session', sessionId: SESSION });
    release();
    await inFlight;
    await service.principalForSession(TENANT, SESSION, 'api');
    expect(query).toHaveBeenCalledTimes(2);
  });
});
