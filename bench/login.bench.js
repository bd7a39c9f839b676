// Sign-in cost: throughput and latency of correct logins, and how 50 concurrent wrong-password
// logins affect /health. Argon2 runs on a bounded pool, so /health must stay fast (p99 ≤ 50 ms).
// The failure limits are raised here so that every wrong password really costs an argon2 verify.
const { startServer, api, run, summarize, ADMIN_TOKEN } = require('./lib');

const HEALTH_P99_TARGET_MS = 50;
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);

async function main() {
  const server = await startServer({ LOGIN_FAILURES_PER_ACCOUNT: '1000000', LOGIN_FAILURES_PER_IP: '1000000' });
  try {
    const admin = { 'x-admin-token': ADMIN_TOKEN };
    const tenant = await api(server.url, 'POST', '/admin/tenants', { name: 'Bench' }, admin);
    const password = 'violet tractor bench umbrella';
    await api(
      server.url,
      'POST',
      `/admin/tenants/${tenant.id}/users`,
      { email: 'bench@example.com', role: 'owner', password },
      admin,
    );
    const login = (pw) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bench@example.com', password: pw }),
    });

    const rows = [];
    rows.push(
      summarize(
        'GET /health alone (10 conn)',
        await run({ url: `${server.url}/health`, connections: 10, duration: 5 }),
      ),
    );
    rows.push(
      summarize(
        'POST /auth/login correct (8 conn)',
        await run({ url: `${server.url}/auth/login`, connections: 8, duration: DURATION, ...login(password) }),
      ),
    );

    // Both at once: the wrong-password flood and a light /health probe.
    const [flood, health] = await Promise.all([
      run({
        url: `${server.url}/auth/login`,
        connections: 50,
        duration: DURATION,
        ...login('wrong password entirely'),
      }),
      run({ url: `${server.url}/health`, connections: 1, duration: DURATION }),
    ]);
    rows.push(summarize('POST /auth/login wrong (50 conn)', flood));
    rows.push(summarize('GET /health during flood (1 conn)', health));
    console.table(rows);

    const statuses = Object.fromEntries(
      Object.entries(flood.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count]),
    );
    console.log(`wrong-password answers by status: ${JSON.stringify(statuses)}`);
    const ok = health.latency.p99 <= HEALTH_P99_TARGET_MS && health.non2xx === 0 && health.errors === 0;
    console.log(
      `/health p99 during the flood: ${health.latency.p99} ms (target ≤ ${HEALTH_P99_TARGET_MS} ms): ${ok ? 'PASS' : 'FAIL'}`,
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
