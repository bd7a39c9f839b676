// Check 6: can a stranger tell whether an email has an account? 200 sign-ins and 200
// forgotten-password requests for an existing and for a missing email, interleaved: the
// status and body (minus the request id) must match and the median times differ by < 5 ms.
// Then an owner's invitations: an address that has an account in another tenant and one that
// has none get the same status and body (minus what names the new membership), in the same time.
// And the routes of people in several tenants and of second factors: a wrong password for a
// person with an authenticator app, a sign-in naming a tenantId, and an email change to an
// address that is someone's against one that is free, each answer like the missing case.
const { createHmac } = require('node:crypto');

const N = 200;
/** Rounds for the comparisons of the newer routes (each round is one request per side). */
const M = 100;
const LIMIT_MS = 5;

/** A different source address per request (127.0.0.0/8), so the per-address throttles stay out of it. */
let next = 0;
const address = () => {
  next++;
  return `127.${60 + (next >> 16)}.${(next >> 8) & 255}.${next & 255 || 1}`;
};

const shape = (res) => `${res.status} ${JSON.stringify({ ...res.json, requestId: undefined })}`;

/** An invitation's answer names the new membership; the rest must not differ. */
const invitationShape = (res) =>
  `${res.status} ${JSON.stringify({ ...res.json, id: undefined, email: undefined, createdAt: undefined, requestId: undefined })}`;

const INVITES = 40;

async function compareInvitations(lib, url, world) {
  const [inviting, other] = world.tenants;
  const headers = { authorization: `Bearer ${inviting.users.owner.jwt}` };
  const stamp = Date.now();
  // People with an account (a password) in the other tenant, none of them in the inviting one.
  const existing = [];
  for (let i = 0; i < INVITES; i++) {
    const email = `known-${stamp}-${i}@example.com`;
    await lib.must(url, 'POST', `/admin/tenants/${other.id}/users`, {
      headers: { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN },
      body: { email, role: 'viewer', password: `violet tractor ${stamp}-${i} umbrella` },
    });
    existing.push(email);
  }
  const times = { existing: [], missing: [] };
  const shapes = { existing: new Set(), missing: new Set() };
  for (let i = 0; i < INVITES; i++) {
    const order = i % 2 ? ['existing', 'missing'] : ['missing', 'existing'];
    for (const which of order) {
      const email = which === 'existing' ? existing[i] : `unknown-${stamp}-${i}@example.com`;
      const res = await lib.http(url, 'POST', '/v1/users/invitations', {
        headers,
        body: { email, role: 'viewer' },
        from: address(),
      });
      times[which].push(res.ms);
      shapes[which].add(invitationShape(res));
    }
  }
  const diff = lib.median(times.existing) - lib.median(times.missing);
  const findings = [];
  const same =
    shapes.existing.size === 1 && shapes.missing.size === 1 && [...shapes.existing][0] === [...shapes.missing][0];
  if (!same)
    findings.push(
      `invitation: answers differ: existing ${[...shapes.existing].join(' | ')} vs missing ${[...shapes.missing].join(' | ')}`,
    );
  if (Math.abs(diff) >= LIMIT_MS) findings.push(`invitation: median time differs by ${diff.toFixed(2)} ms`);
  return {
    findings,
    figures: {
      'invitation median existing ms': lib.median(times.existing).toFixed(2),
      'invitation median missing ms': lib.median(times.missing).toFixed(2),
      'invitation diff ms': diff.toFixed(2),
    },
  };
}

async function compare(lib, url, label, path, bodyFor, existing, missing, { headers, rounds = N } = {}) {
  const times = { existing: [], missing: [] };
  const shapes = { existing: new Set(), missing: new Set() };
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first so drift in the machine's load falls on both sides.
    const order = i % 2 ? ['existing', 'missing'] : ['missing', 'existing'];
    for (const which of order) {
      const res = await lib.http(url, 'POST', path, {
        headers,
        body: bodyFor(which === 'existing' ? existing : missing),
        from: address(),
      });
      times[which].push(res.ms);
      shapes[which].add(shape(res));
    }
  }
  const diff = lib.median(times.existing) - lib.median(times.missing);
  const findings = [];
  const same =
    shapes.existing.size === 1 && shapes.missing.size === 1 && [...shapes.existing][0] === [...shapes.missing][0];
  if (!same)
    findings.push(
      `${label}: answers differ: existing ${[...shapes.existing].join(' | ')} vs missing ${[...shapes.missing].join(' | ')}`,
    );
  if (Math.abs(diff) >= LIMIT_MS) findings.push(`${label}: median time differs by ${diff.toFixed(2)} ms`);
  return {
    findings,
    figures: {
      [`${label} median existing ms`]: lib.median(times.existing).toFixed(2),
      [`${label} median missing ms`]: lib.median(times.missing).toFixed(2),
      [`${label} diff ms`]: diff.toFixed(2),
    },
  };
}

/** RFC 6238 (SHA-1, 6 digits, 30 s) of a base32 secret, as an authenticator app computes it. */
function totp(secretBase32, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const char of secretBase32.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const mac = createHmac('sha1', Buffer.from(bytes)).update(counter).digest();
  const offset = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** A member of the tenant with a confirmed authenticator app; their email. */
async function personWithSecondFactor(lib, url, tenant) {
  const email = `mfa-${Date.now()}@example.com`;
  const password = lib.strongPassword();
  await lib.must(url, 'POST', `/admin/tenants/${tenant.id}/users`, {
    headers: { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN },
    body: { email, role: 'member', password },
  });
  const { accessToken } = (await lib.must(url, 'POST', '/auth/login', { body: { email, password } })).json;
  const headers = { authorization: `Bearer ${lib.remember('access token', accessToken)}` };
  const { secret } = (await lib.must(url, 'POST', '/auth/mfa/totp', { headers })).json;
  await lib.must(url, 'POST', '/auth/mfa/totp/confirm', { headers, body: { code: totp(secret) } });
  // The factor is in force: the right password now answers with the second step, not tokens.
  const next = (await lib.must(url, 'POST', '/auth/login', { body: { email, password } })).json;
  if (!next.mfa_required || next.accessToken) throw new Error('the authenticator app did not take effect');
  return email;
}

async function run({ lib, url, world }) {
  const existing = world.tenants[0].users.viewer.email;
  const missing = `nobody-${Date.now()}@example.com`;
  const login = await compare(
    lib,
    url,
    'login',
    '/auth/login',
    (email) => ({ email, password: 'not the password at all 123' }),
    existing,
    missing,
  );
  const forgot = await compare(lib, url, 'forgot', '/auth/password/forgot', (email) => ({ email }), existing, missing);
  const invitations = await compareInvitations(lib, url, world);
  const wrongPassword = (email) => ({ email, password: 'not the password at all 123' });
  const withFactor = await compare(
    lib,
    url,
    'login with a second factor',
    '/auth/login',
    wrongPassword,
    await personWithSecondFactor(lib, url, world.tenants[0]),
    missing,
    { rounds: M },
  );
  // Naming a tenant: the person's own tenant against an unknown address, both with a wrong password.
  const withTenant = await compare(
    lib,
    url,
    'login with tenantId',
    '/auth/login',
    (email) => ({ ...wrongPassword(email), tenantId: world.tenants[0].id }),
    existing,
    missing,
    { rounds: M },
  );
  // An email change to an address that is someone's (in the other tenant) or free.
  const changer = world.tenants[0].users.member;
  const emailChange = await compare(
    lib,
    url,
    'email change',
    '/auth/email',
    (newEmail) => ({ newEmail, currentPassword: changer.password }),
    world.tenants[1].users.viewer.email,
    missing,
    { headers: { authorization: `Bearer ${changer.jwt}` }, rounds: INVITES },
  );
  const newer = [withFactor, withTenant, emailChange];
  return {
    findings: [...login.findings, ...forgot.findings, ...invitations.findings, ...newer.flatMap((c) => c.findings)],
    figures: {
      requests: 4 * N + 2 * INVITES + 4 * M + 2 * INVITES,
      ...login.figures,
      ...forgot.figures,
      ...invitations.figures,
      ...Object.assign({}, ...newer.map((c) => c.figures)),
    },
  };
}

module.exports = { run };
