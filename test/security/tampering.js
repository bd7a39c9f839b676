// Check 7: forged and altered credentials. Every variant must get 401; the untouched
// credential (the control) must still work, or the check proves nothing.
const { createHmac, generateKeyPairSync, createSign } = require('node:crypto');

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const decode = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

function sign(header, payload, secret, hash = 'sha256') {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

/** The same string with the character at `index` replaced by another of the same alphabet. */
function oneCharChanged(value, index) {
  const alphabet = /[A-Za-z0-9]/.test(value[index])
    ? 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
    : '-_';
  const replacement = alphabet[(alphabet.indexOf(value[index]) + 7) % alphabet.length];
  return value.slice(0, index) + replacement + value.slice(index + 1);
}

async function run({ lib, url, world }) {
  const { http } = lib;
  const [a, b] = world.tenants;
  const user = a.users.member;
  const secret = lib.baseEnv.JWT_SECRET;
  const [h, p] = user.jwt.split('.');
  const header = decode(h);
  const claims = decode(p);
  const now = Math.floor(Date.now() / 1000);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rs256 = (payload) => {
    const input = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(payload)}`;
    return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
  };

  const jwts = {
    'alg none': `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`,
    'alg None, signature kept': `${b64url({ alg: 'None', typ: 'JWT' })}.${p}.${user.jwt.split('.')[2]}`,
    'alg RS256 header, HS256 signature': `${b64url({ ...header, alg: 'RS256' })}.${p}.${user.jwt.split('.')[2]}`,
    'RS256 signed by an attacker key': rs256(claims),
    'HS512 with the real secret (alg not pinned)': sign({ alg: 'HS512', typ: 'JWT' }, claims, secret, 'sha512'),
    'HS256 with a guessed secret': sign(header, claims, 'secret'),
    'HS256 keyed with the JWT secret text as an RSA "public key"': sign(
      header,
      { ...claims, role: 'owner' },
      `-----BEGIN PUBLIC KEY-----\n${secret}\n-----END PUBLIC KEY-----\n`,
    ),
    'role raised to owner, signature kept': `${h}.${b64url({ ...claims, role: 'owner' })}.${user.jwt.split('.')[2]}`,
    'tenant switched, signature kept': `${h}.${b64url({ ...claims, tid: b.id })}.${user.jwt.split('.')[2]}`,
    'subject switched, signature kept': `${h}.${b64url({ ...claims, sub: a.users.owner.id })}.${user.jwt.split('.')[2]}`,
    'expired (validly signed)': sign(header, { ...claims, iat: now - 3600, exp: now - 60 }, secret),
    'wrong issuer (validly signed)': sign(header, { ...claims, iss: 'https://evil.example' }, secret),
    'wrong audience (validly signed)': sign(header, { ...claims, aud: 'someone-else' }, secret),
    'no issuer or audience (validly signed)': sign(
      header,
      { sub: claims.sub, tid: claims.tid, sid: claims.sid, role: claims.role, exp: claims.exp },
      secret,
    ),
    'session id of another user (validly signed)': sign(
      header,
      { ...claims, sid: decode(a.users.owner.jwt.split('.')[1]).sid },
      secret,
    ),
    'signature one character changed': oneCharChanged(user.jwt, user.jwt.length - 5),
  };

  const findings = [];
  let attempts = 0;
  const expect401 = async (label, path, options) => {
    attempts++;
    const res = await http(url, options.body ? 'POST' : 'GET', path, options);
    if (res.status !== 401) findings.push(`${label}: ${res.status} ${res.text.slice(0, 150)}`);
  };
  const control = async (label, path, options) => {
    const res = await http(url, options.body ? 'POST' : 'GET', path, options);
    if (res.status !== 200 && res.status !== 201) findings.push(`control ${label} does not work: ${res.status}`);
  };

  await control('JWT', '/auth/me', { headers: { authorization: `Bearer ${user.jwt}` } });
  for (const [label, token] of Object.entries(jwts))
    await expect401(`JWT ${label}`, '/auth/me', { headers: { authorization: `Bearer ${token}` } });

  // Session cookies, API keys and refresh tokens: one character changed at several places.
  const key = a.users.owner.keys['keys:read'].key;
  await control('session', '/auth/me', { headers: { cookie: `kw_session=${user.session}` } });
  await control('API key', '/auth/me', { headers: { 'x-api-key': key } });
  for (const index of [0, 5, 20, -7, -1]) {
    const at = (value) => (index < 0 ? value.length + index : index);
    await expect401(`session cookie changed at ${index}`, '/auth/me', {
      headers: { cookie: `kw_session=${oneCharChanged(user.session, at(user.session))}` },
    });
    // The key's prefix ("kw_") is not secret; change characters after it.
    const keyIndex = index < 0 ? at(key) : key.indexOf('_') + 1 + index;
    await expect401(`API key changed at ${keyIndex}`, '/auth/me', {
      headers: { 'x-api-key': oneCharChanged(key, keyIndex) },
    });
    await expect401(`refresh token changed at ${index}`, '/auth/refresh', {
      body: { refreshToken: oneCharChanged(user.refreshToken, at(user.refreshToken)) },
    });
  }
  await control('JWT after the attempts', '/auth/me', { headers: { authorization: `Bearer ${user.jwt}` } });
  return { findings, figures: { 'forged JWTs': Object.keys(jwts).length, attempts, 'not 401': findings.length } };
}

module.exports = { run };
