// Check: Idempotency-Key replays reach only the credential that made the first request. A
// narrow key (keys:write only) and a second sign-in of the same owner reuse a broad key's
// Idempotency-Key and body; neither may receive the stored response (a full key).
async function run({ lib, url, world }) {
  const findings = [];
  // The admin holds every scope by role and, unlike the owner, no seeded keys (the cap is 10).
  const owner = world.tenants[1].users.admin;
  const bearer = { authorization: `Bearer ${owner.jwt}` };
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
