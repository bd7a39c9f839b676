// Check: Idempotency-Key replays reach only the credential that made the first request. A
// narrow key (keys:write only) and a second sign-in of the same owner reuse a broad key's
// Idempotency-Key and body; neither may receive the stored response (a full key). On a fresh
// tenant of its own, so the keys other checks made count toward no cap here.
const { randomBytes } = require('node:crypto');

async function run({ lib, url, world }) {
  const findings = [];
  const admin = { 'x-admin-token': world.adminToken };
  const tenant = (
    await lib.must(url, 'POST', '/admin/tenants', {
      headers: admin,
      body: { name: `Idempotency ${randomBytes(3).toString('hex')}` },
    })
  ).json;
  const owner = {
    email: `owner-idempotency-${randomBytes(3).toString('hex')}@example.com`,
    password: lib.strongPassword(),
  };
  await lib.must(url, 'POST', `/admin/tenants/${tenant.id}/users`, {
    headers: admin,
    body: { ...owner, role: 'owner' },
  });
  const signedIn = (await lib.must(url, 'POST', '/auth/login', { body: owner })).json;
  lib.remember('access token', signedIn.accessToken);
  lib.remember('refresh token', signedIn.refreshToken);
  const bearer = { authorization: `Bearer ${signedIn.accessToken}` };
  const mint = async (scopes) =>
    lib.remember(
      'API key',
      (
        await lib.must(
          url,
          'POST',
          '/auth/api-key/generate',
          { headers: bearer, body: { name: `idem ${scopes.length}`, scopes } },
          201,
        )
      ).json.apiKey,
    );
  const broad = await mint(lib.SCOPES);
  const narrow = await mint(['keys:write']);
  const body = { name: 'idempotency target', scopes: ['config:read', 'config:secrets'] };
  const key = `security-${Date.now()}`;
  const first = await lib.must(
    url,
    'POST',
    '/v1/api-keys',
    { headers: { 'x-api-key': broad, 'idempotency-key': key }, body },
    201,
  );
  lib.remember('API key', first.json.apiKey);

  const second = await lib.must(url, 'POST', '/auth/login', { body: { email: owner.email, password: owner.password } });
  lib.remember('access token', second.json.accessToken);
  lib.remember('refresh token', second.json.refreshToken);
  const others = {
    'narrow key of the same owner': { 'x-api-key': narrow },
    'first sign-in': bearer,
    'second sign-in': { authorization: `Bearer ${second.json.accessToken}` },
  };
  for (const [label, headers] of Object.entries(others)) {
    const res = await lib.http(url, 'POST', '/v1/api-keys', { headers: { ...headers, 'idempotency-key': key }, body });
    if (res.json?.apiKey) lib.remember('API key', res.json.apiKey);
    if (res.headers['idempotent-replayed'] || res.text.includes(first.json.apiKey))
      findings.push(`${label} received the broad key's stored response (${res.status})`);
  }
  const again = await lib.http(url, 'POST', '/v1/api-keys', {
    headers: { 'x-api-key': broad, 'idempotency-key': key },
    body,
  });
  if (again.headers['idempotent-replayed'] !== 'true')
    findings.push(`the original key got no replay (${again.status})`);
  return { findings, figures: { credentials: Object.keys(others).length + 1 } };
}

module.exports = { run };
