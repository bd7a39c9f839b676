import type { DataSource } from 'typeorm';
import type { Clock } from '../common/clock';
import type { AppConfig } from '../config/app-config';
import type { OperatorEventsService } from './operator-events.service';
import { OperatorSessionsService } from './operator-sessions.service';

const NOW = new Date('2030-01-01T00:00:00Z');
const MINUTE = 60_000;

/** The service over a fake database holding one console session, as the given row says. */
function withRow(row: Record<string, unknown> | undefined) {
  const query = jest.fn(async (sql: string) => (sql.startsWith('SELECT') && row ? [row] : []));
  const service = new OperatorSessionsService(
    { query } as unknown as DataSource,
    {} as AppConfig,
    { now: () => NOW } as Clock,
    {} as OperatorEventsService,
  );
  return { service, query };
}

const live = {
  id: 's1',
  person_id: 'p1',
  last_seen_at: new Date(NOW.getTime() - 5 * MINUTE),
  expires_at: new Date(NOW.getTime() + 60 * MINUTE),
  idle_timeout_seconds: 30 * 60,
};

describe('OperatorSessionsService.principalForToken', () => {
  it('gives the operator principal: the service operator, naming the person, in no tenant', async () => {
    const { service, query } = withRow(live);
    expect(await service.principalForToken('token')).toEqual({
      kind: 'admin',
      operatorId: 'p1',
      sessionId: 's1',
      scopes: [],
    });
    // Only a person who is still an operator, and the hash of the token, never the token.
    const [sql, params] = query.mock.calls[0] as unknown as [string, string[]];
    expect(sql).toContain('p.is_operator');
    expect(params).not.toContain('token');
  });

  it('refuses a session past its idle limit or its absolute limit', async () => {
    const idle = withRow({ ...live, last_seen_at: new Date(NOW.getTime() - 31 * MINUTE) });
    expect(await idle.service.principalForToken('token')).toBeNull();
    const expired = withRow({ ...live, expires_at: NOW });
    expect(await expired.service.principalForToken('token')).toBeNull();
  });

  it('refuses a token that names no live session (revoked, unknown, or no longer an operator)', async () => {
    expect(await withRow(undefined).service.principalForToken('token')).toBeNull();
  });

  it('writes last_seen_at only when a minute has passed', async () => {
    const fresh = withRow({ ...live, last_seen_at: new Date(NOW.getTime() - 10_000) });
    await fresh.service.principalForToken('token');
    expect(fresh.query).toHaveBeenCalledTimes(1);
    const stale = withRow(live);
    await stale.service.principalForToken('token');
    expect(stale.query.mock.calls[1][0]).toMatch(/^UPDATE operator_sessions SET last_seen_at/);
  });
});
