// Check: TRUST_PROXY behind a real nginx (Debian's package, started here on a free port with a
// temp config, appending $proxy_add_x_forwarded_for). Without TRUST_PROXY the service sees the
// proxy (127.0.0.1) for every client; with TRUST_PROXY=127.0.0.1/32 it sees the client nginx saw,
// an allowlisted key works only from its forwarded address, and neither a forged X-Forwarded-For
// through nginx nor one sent straight to the service (from an untrusted address) can spoof it.
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { startNginx } = require('./nginx');

async function run(ctx) {
  const { lib, world, main, db } = ctx;
  const findings = [];
  const figures = {};
  const user = world.tenants[0].users.member;
  const owner = { authorization: `Bearer ${world.tenants[0].users.owner.jwt}` };

  /** Signs in through `proxy` from `from`; the address the new session recorded. */
  async function sessionAddress(proxy, from) {
    const login = await lib.must(proxy, 'POST', '/auth/login', {
      from,
      body: { email: user.email, password: user.password },
    });
    lib.remember('access token', login.json.accessToken);
    lib.remember('refresh token', login.json.refreshToken);
    const auth = { authorization: `Bearer ${login.json.accessToken}` };
    const sessions = (await lib.must(proxy, 'GET', '/auth/sessions', { from, headers: auth })).json;
    return (sessions.items ?? sessions).find((s) => s.current)?.ip;
  }
  const expect = (label, actual, wanted) => {
    if (actual !== wanted) findings.push(`${label}: got ${actual}, expected ${wanted}`);
  };

  const pinned = (
    await lib.must(
      main.url,
      'POST',
      '/v1/api-keys',
      { headers: owner, body: { name: 'proxy pinned', scopes: ['config:read'], ipAllowlist: ['127.0.0.5'] } },
      201,
    )
  ).json;
  const key = { 'x-api-key': lib.remember('API key', pinned.apiKey) };
  const me = async (base, from, headers = {}) =>
    (await lib.http(base, 'GET', '/auth/me', { from, headers: { ...key, ...headers } })).status;

  const plain = await startNginx(main.url);
  try {
    expect(
      'no TRUST_PROXY: session address of a client behind nginx',
      await sessionAddress(plain.url, '127.0.0.5'),
      '127.0.0.1',
    );
    expect('no TRUST_PROXY: allowlisted key from its address through nginx', await me(plain.url, '127.0.0.5'), 403);
    expect(
      'no TRUST_PROXY: forged X-Forwarded-For straight to the service',
      await me(main.url, '127.0.0.6', { 'x-forwarded-for': '127.0.0.5' }),
      403,
    );
  } finally {
    await plain.stop();
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'keyward-security-data-'));
  const proxied = await lib.startService('proxied', {
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    TRUST_PROXY: '127.0.0.1/32',
    LOGIN_FAILURES_PER_ACCOUNT: '1000000',
    LOGIN_FAILURES_PER_IP: '1000000',
  });
  ctx.logFiles.push(proxied.logFile);
  ctx.dataDirs.push(dataDir);
  const nginx = await startNginx(proxied.url);
  let requests = 0;
  try {
    expect(
      'TRUST_PROXY: session address of a client behind nginx',
      await sessionAddress(nginx.url, '127.0.0.5'),
      '127.0.0.5',
    );
    const audit = (
      await lib.must(nginx.url, 'GET', '/v1/audit-events?action=auth.login&limit=5', {
        headers: { authorization: `Bearer ${world.tenants[0].users.owner.jwt}` },
      })
    ).json;
    expect('TRUST_PROXY: audit address of the last sign-in', audit.items?.[0]?.ip, '127.0.0.5');
    expect('TRUST_PROXY: allowlisted key from its address', await me(nginx.url, '127.0.0.5'), 200);
    expect('TRUST_PROXY: allowlisted key from another address', await me(nginx.url, '127.0.0.6'), 403);
    for (const forged of ['127.0.0.5', '127.0.0.5, 127.0.0.5', '127.0.0.1, 127.0.0.5', '127.0.0.5, 127.0.0.1']) {
      expect(
        `TRUST_PROXY: forged X-Forwarded-For "${forged}" through nginx`,
        await me(nginx.url, '127.0.0.6', { 'x-forwarded-for': forged }),
        403,
      );
      expect(
        `TRUST_PROXY: forged X-Forwarded-For "${forged}" from an untrusted address straight in`,
        await me(proxied.url, '127.0.0.6', { 'x-forwarded-for': forged }),
        403,
      );
      requests += 2;
    }
  } finally {
    await nginx.stop();
    await proxied.stop();
  }
  figures['spoof attempts'] = requests;
  figures.nginx = 'real';
  return { findings, figures };
}

module.exports = { run };
