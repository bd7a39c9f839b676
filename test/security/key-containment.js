// Check: what a key or person can hand out stays within what they hold. Three attacks on a
// fresh tenant of its own: rotating past the key caps (sequentially and in a burst), a
// keys:write-only key stripping a stronger key's safeguards, and a rate-limited key raising
// its own or a child's limit. Any success is a finding.
const { randomBytes } = require('node:crypto');

async function run({ lib, url, world }) {
  const { must, http, remember } = lib;
  const admin = { 'x-admin-token': world.adminToken };
  const findings = [];
  const figures = {};
  // Status and code only: a successful answer may carry a full key.
  const note = (what, res) => findings.push(`${what}: ${res.status} ${res.json?.code ?? ''}`);
  const keep = (res) => {
    if (typeof res.json?.apiKey === 'string') remember('API key', res.json.apiKey);
    return res;
  };

  const tenant = (
    await must(url, 'POST', '/admin/tenants', {
      headers: admin,
      body: { name: `Containment ${randomBytes(3).toString('hex')}` },
    })
  ).json;
  const email = `owner-containment-${randomBytes(3).toString('hex')}@example.com`;
  const password = lib.strongPassword();
  await must(url, 'POST', `/admin/tenants/${tenant.id}/users`, {
    headers: admin,
    body: { email, role: 'owner', password },
  });
  const tokens = (await must(url, 'POST', '/auth/login', { body: { email, password } })).json;
  remember('access token', tokens.accessToken);
  remember('refresh token', tokens.refreshToken);
  const asOwner = { authorization: `Bearer ${tokens.accessToken}` };
  const create = async (headers, body) => keep(await http(url, 'POST', '/v1/api-keys', { headers, body }));
  const activeKeys = async () =>
    (await must(url, 'GET', '/v1/api-keys?status=active&limit=100', { headers: asOwner })).json.total;

  // 1. Caps: 3 keys per user; rotations with a grace period must not make a fourth working key.
  const cap = 3;
  await must(url, 'PATCH', `/admin/tenants/${tenant.id}`, {
    headers: admin,
    body: { maxKeysPerUser: cap, maxKeysPerTenant: 50 },
  });
  const keys = [];
  for (let i = 0; i < cap; i++)
    keys.push(
      (
        await must(
          url,
          'POST',
          '/v1/api-keys',
          { headers: asOwner, body: { scopes: ['keys:read', 'keys:write'] } },
          201,
        )
      ).json,
    );
  keys.forEach((key) => remember('API key', key.apiKey));
  let rotations = 0;
  for (let i = 0; i < 20; i++) {
    const by = i % 2 ? asOwner : { 'x-api-key': keys[0].apiKey };
    const res = keep(
      await http(url, 'POST', `/v1/api-keys/${keys[i % cap].id}/rotate`, {
        headers: by,
        body: { gracePeriodSeconds: 3600 },
      }),
    );
    if (res.status === 201) rotations++;
    else if (res.json?.code !== 'KEY_LIMIT_REACHED' && res.json?.code !== 'KEY_NOT_ACTIVE')
      note('rotation at the cap answered unexpectedly', res);
  }
  const burst = await Promise.all([
    ...keys.map((key) => http(url, 'POST', `/v1/api-keys/${key.id}/rotate`, { headers: asOwner, body: {} })),
    ...Array.from({ length: 10 }, () => http(url, 'POST', '/v1/api-keys', { headers: asOwner, body: {} })),
  ]);
  burst.forEach(keep);
  const afterRotations = await activeKeys();
  figures['cap'] = cap;
  figures['rotations accepted at the cap'] = rotations;
  figures['burst 201s'] = burst.filter((res) => res.status === 201).length;
  figures['working keys after'] = afterRotations;
  if (rotations) findings.push(`${rotations} rotations with a grace period were accepted at the cap of ${cap}`);
  if (afterRotations > cap) findings.push(`the owner holds ${afterRotations} working keys over a cap of ${cap}`);
  if (burst.some((res) => res.status >= 500)) findings.push('a concurrent create/rotate answered 5xx');

  // Room for the next attacks.
  await must(url, 'PATCH', `/admin/tenants/${tenant.id}`, { headers: admin, body: { maxKeysPerUser: 50 } });

  // 6. A keys:write-only key against an all-scope key confined to 10/8, with a quota and a rate limit, disabled.
  const strong = (
    await must(
      url,
      'POST',
      '/v1/api-keys',
      {
        headers: asOwner,
        body: {
          scopes: lib.SCOPES,
          ipAllowlist: ['10.0.0.0/8'],
          quota: { remaining: 100 },
          rateLimit: { limit: 5, windowSeconds: 60 },
        },
      },
      201,
    )
  ).json;
  remember('API key', strong.apiKey);
  await must(url, 'PATCH', `/v1/api-keys/${strong.id}`, { headers: asOwner, body: { disabled: true } });
  const narrow = (await must(url, 'POST', '/v1/api-keys', { headers: asOwner, body: { scopes: ['keys:write'] } }, 201))
    .json;
  remember('API key', narrow.apiKey);
  const strips = {
    'clear allowlist': { ipAllowlist: [] },
    'clear quota': { quota: null },
    'raise rate limit': { rateLimit: { limit: 1000000, windowSeconds: 1 } },
    're-enable': { disabled: false },
  };
  let stripped = 0;
  for (const [what, body] of Object.entries(strips)) {
    const res = await http(url, 'PATCH', `/v1/api-keys/${strong.id}`, {
      headers: { 'x-api-key': narrow.apiKey },
      body,
    });
    if (res.status !== 403) {
      stripped++;
      note(`keys:write-only key could ${what} of an all-scope key`, res);
    }
  }
  const rotatedStrong = keep(
    await http(url, 'POST', `/v1/api-keys/${strong.id}/rotate`, { headers: { 'x-api-key': narrow.apiKey }, body: {} }),
  );
  if (rotatedStrong.status !== 403) {
    stripped++;
    note('keys:write-only key rotated an all-scope key', rotatedStrong);
  }
  const unchanged = (await must(url, 'GET', `/v1/api-keys/${strong.id}`, { headers: asOwner })).json;
  if (!unchanged.disabled || !unchanged.ipAllowlist || !unchanged.quota || unchanged.rateLimit?.limit !== 5) {
    const { disabled, ipAllowlist, quota, rateLimit } = unchanged;
    findings.push(`the all-scope key was changed: ${JSON.stringify({ disabled, ipAllowlist, quota, rateLimit })}`);
  }
  figures['safeguards stripped'] = stripped;

  // 8. A key limited to 3 a minute: its own limit and its children's stay within 3 a minute.
  const slow = (
    await must(
      url,
      'POST',
      '/v1/api-keys',
      { headers: asOwner, body: { scopes: ['keys:write', 'config:read'], rateLimit: { limit: 3, windowSeconds: 60 } } },
      201,
    )
  ).json;
  remember('API key', slow.apiKey);
  const asSlow = { 'x-api-key': slow.apiKey };
  const raised = await http(url, 'PATCH', `/v1/api-keys/${slow.id}`, {
    headers: asSlow,
    body: { rateLimit: { limit: 1000000, windowSeconds: 1 } },
  });
  const fastChild = await create(asSlow, { scopes: ['config:read'], rateLimit: { limit: 1000000, windowSeconds: 1 } });
  const defaultChild = await create(asSlow, { scopes: ['config:read'] });
  if (raised.status !== 403) note('a key limited to 3/min raised its own limit', raised);
  if (fastChild.status !== 403) note('a key limited to 3/min made a child at 1,000,000/s', fastChild);
  const inherited = defaultChild.json?.rateLimit;
  if (
    defaultChild.status === 201 &&
    !(inherited && inherited.limit <= 3 && inherited.limit * 60 <= 3 * inherited.windowSeconds)
  ) {
    findings.push(`a child of a key limited to 3/min got ${JSON.stringify(inherited)}`);
  }
  figures['rate raises refused'] = [raised, fastChild].filter((res) => res.status === 403).length;
  return { findings, figures };
}

module.exports = { run };
