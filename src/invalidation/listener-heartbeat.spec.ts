import { ListenerHeartbeat } from './listener-heartbeat';

describe('ListenerHeartbeat', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function setup(deliver: boolean, sendFails = false) {
    const events: string[] = [];
    const sent: string[] = [];
    const heartbeat: ListenerHeartbeat = new ListenerHeartbeat({
      send: async (payload) => {
        sent.push(payload);
        if (sendFails) throw new Error('connection refused');
        // A working LISTEN hears the NOTIFY right after it was sent.
        if (deliver) setTimeout(() => heartbeat.receive(payload), 10);
      },
      onDeaf: () => events.push('deaf'),
      onHearing: () => events.push('hearing'),
      intervalMs: 5_000,
      deadlineMs: 3_000,
    });
    return { heartbeat, events, sent };
  }

  it('stays hearing while its heartbeats come back', async () => {
    const { heartbeat, events } = setup(true);
    heartbeat.start();
    await jest.advanceTimersByTimeAsync(30_000);
    expect(heartbeat.state).toBe('hearing');
    expect(events).toEqual(['hearing']);
    heartbeat.stop();
  });

  it('turns deaf once, at the deadline of a heartbeat not heard back, and says so once', async () => {
    const { heartbeat, events } = setup(false);
    heartbeat.start();
    await jest.advanceTimersByTimeAsync(2_999);
    expect(heartbeat.state).toBe('unknown');
    await jest.advanceTimersByTimeAsync(1);
    expect(heartbeat.state).toBe('deaf');
    await jest.advanceTimersByTimeAsync(60_000);
    expect(events).toEqual(['deaf']);
    heartbeat.stop();
  });

  it('hears again when a heartbeat comes back after being deaf', async () => {
    const { heartbeat, events, sent } = setup(false);
    heartbeat.start();
    await jest.advanceTimersByTimeAsync(3_000);
    expect(heartbeat.state).toBe('deaf');
    heartbeat.receive(sent.at(-1));
    expect(heartbeat.state).toBe('hearing');
    expect(events).toEqual(['deaf', 'hearing']);
    heartbeat.stop();
  });

  it("ignores other instances' heartbeats and garbage", async () => {
    const { heartbeat } = setup(false);
    heartbeat.start();
    heartbeat.receive('00000000-0000-0000-0000-000000000000:1');
    heartbeat.receive(undefined);
    heartbeat.receive('{"keyId":"x"}');
    await jest.advanceTimersByTimeAsync(3_000);
    expect(heartbeat.state).toBe('deaf');
    heartbeat.stop();
  });

  it('gives no verdict while the heartbeat cannot be sent (the database check reports that)', async () => {
    const { heartbeat, events } = setup(false, true);
    heartbeat.start();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(heartbeat.state).toBe('unknown');
    expect(events).toEqual([]);
    heartbeat.stop();
  });
});
