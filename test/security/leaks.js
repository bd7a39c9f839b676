// Check 8: after everything else, search the complete log output of both service processes
// and a pg_dump of the database for every secret the run used or received: passwords, full
// API keys, refresh and access tokens, session cookies, reset and invitation tokens (from the
// mail outbox), config secret values and ADMIN_TOKEN.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

/** While the service runs: a reset and an invitation, so their tokens exist (they arrive only by mail). */
const prepare = ({ lib, url, world, dataDirs }) => spendMailTokens(lib, url, world, dataDirs);

/** After the service stopped, so its log is complete. */
async function run({ lib, db, logFiles, world }) {
  const dumpFile = join(lib.workDir, 'database.sql');
  const dump = await lib.runTool('pg_dump', ['--no-owner', '-f', dumpFile, db.url], { timeoutMs: 120_000 });
  const findings = [];
  if (dump.code !== 0) findings.push(`pg_dump failed: ${dump.output}`);
  const haystacks = [
    ...logFiles.map((file) => [file, readFileSync(file, 'utf8')]),
    [dumpFile, dump.code === 0 ? readFileSync(dumpFile, 'utf8') : ''],
  ];
  // Controls: the haystacks hold what they should (an email in the dump, requests in the log).
  if (!haystacks.at(-1)[1].includes(world.tenants[0].users.owner.email))
    findings.push('control: the dump does not hold a user email');
  if (!haystacks[0][1].includes('/auth/login')) findings.push('control: the log does not hold the requests');
  // The shortest secret is long and random; a hit is a leak, not chance.
  const kinds = {};
  for (const [secret, kind] of lib.secrets) {
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    for (const [file, text] of haystacks) {
      if (text.includes(secret) || text.includes(encodeURIComponent(secret))) findings.push(`${kind} found in ${file}`);
    }
  }
  return {
    findings,
    figures: {
      secrets: lib.secrets.size,
      ...Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k.replace(/ /g, '_'), v])),
      'log bytes': haystacks.slice(0, -1).reduce((n, [, t]) => n + t.length, 0),
      'dump bytes': haystacks.at(-1)[1].length,
      hits: findings.length,
    },
  };
}

/** Requests a reset and an invitation, reads their tokens from the outbox and uses them. */
async function spendMailTokens(lib, url, world, dataDirs) {
  const owner = world.tenants[0].users.owner;
  // A user of its own: the seeded ones have had their three reset mails per window already.
  const email = `reset-${Date.now()}@example.com`;
  await lib.must(url, 'POST', `/admin/tenants/${world.tenants[0].id}/users`, {
    headers: { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN },
    body: { email, role: 'viewer', password: lib.strongPassword() },
  });
  const before = new Set(dataDirs.flatMap((dir) => lib.outboxTokens(dir)));
  await lib.must(url, 'POST', '/auth/password/forgot', { body: { email }, from: '127.0.9.1' });
  const inviteEmail = `invited-${Date.now()}@example.com`;
  await lib.must(url, 'POST', '/v1/users/invitations', {
    headers: { authorization: `Bearer ${owner.jwt}` },
    body: { email: inviteEmail, role: 'member' },
  });
  await lib.sleep(1000); // mail is written in the background
  const tokens = dataDirs.flatMap((dir) => lib.outboxTokens(dir)).filter((t) => !before.has(t));
  for (const token of new Set([...before, ...tokens])) lib.remember('mailed token', token);
  for (const token of tokens) {
    const password = lib.strongPassword();
    // One of the two routes takes it; the other answers 400 and spends nothing.
    const reset = await lib.http(url, 'POST', '/auth/password/reset', {
      body: { token, newPassword: password },
      from: '127.0.9.2',
    });
    if (reset.status >= 300)
      await lib.http(url, 'POST', '/auth/invitations/accept', { body: { token, password }, from: '127.0.9.3' });
  }
  if (tokens.length < 2) throw new Error(`expected a reset and an invitation mail, found ${tokens.length} new tokens`);
}

module.exports = { prepare, run };
