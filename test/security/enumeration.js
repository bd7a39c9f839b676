// Check 6: can a stranger tell whether an email has an account? 200 sign-ins and 200
// forgotten-password requests for an existing and for a missing email, interleaved: the
// status and body (minus the request id) must match and the median times differ by < 5 ms.
// Then an owner's invitations: an address that has an account in another tenant and one that
// has none get the same status and body (minus what names the new membership), in the same time.
const N = 200;
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

async function compare(lib, url, label, path, bodyFor, existing, missing) {
  const times = { existing: [], missing: [] };
  const shapes = { existing: new Set(), missing: new Set() };
  for (let i = 0; i < N; i++) {
    // Alternate which goes first so drift in the machine's load falls on both sides.
    const order = i % 2 ? ['existing', 'missing'] : ['missing', 'existing'];
    for (const which of order) {
      const res = await lib.http(url, 'POST', path, {
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
  return {
    findings: [...login.findings, ...forgot.findings, ...invitations.findings],
    figures: { requests: 4 * N + 2 * INVITES, ...login.figures, ...forgot.figures, ...invitations.figures },
  };
}

module.exports = { run };
