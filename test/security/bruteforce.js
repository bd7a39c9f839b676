// Check 3: hydra guesses the password of one account through the dashboard sign-in form, on
// the instance with the default throttles. The real password is word 40 of 50. Pass: hydra
// finds nothing, the form answers 429 with Retry-After, and the real user still signs in from
// another address (127.0.0.2).
//
// The form is CSRF-protected. hydra cannot fetch a token per attempt, but it does not need to:
// the token is bound to the secret in the kw_csrf cookie, not to one request, so one pair taken
// from GET /login and sent with every attempt (H=Cookie) is accepted. Without it every attempt
// is refused with 403; we run hydra once that way too, to show it.
const { randomBytes } = require('node:crypto');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

async function run({ lib, url: mainUrl, strict }) {
  const { http, cookieOf } = lib;
  const url = strict.url;
  const tenantId = (
    await lib.must(mainUrl, 'POST', '/admin/tenants', {
      headers: { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN },
      body: { name: `Brute ${randomBytes(3).toString('hex')}` },
    })
  ).json.id;
  const email = `brute-${randomBytes(3).toString('hex')}@example.com`;
  const password = lib.strongPassword();
  await lib.must(mainUrl, 'POST', `/admin/tenants/${tenantId}/users`, {
    headers: { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN },
    body: { email, role: 'member', password },
  });

  const words = Array.from({ length: 50 }, (_, i) => `guess ${i} ${randomBytes(4).toString('hex')} autumn`);
  words[39] = password;
  const wordlist = join(lib.workDir, 'brute-words.txt');
  writeFileSync(wordlist, words.join('\n') + '\n');

  const page = await http(url, 'GET', '/login');
  const csrfCookie = cookieOf(page, 'kw_csrf');
  const csrfToken = /name="_csrf" value="([^"]+)"/.exec(page.text)[1];
  const port = new URL(url).port;
  // Every failure (wrong password, 429, CSRF refusal) renders the sign-in page; a success is the
  // 303 to /dashboard (2= counts a redirect as success, g= skips hydra's own cookie fetch).
  // hydra 9.4 takes the condition after the optional parameters, not before as its help says.
  const hydra = (user, list, withCsrf) =>
    lib.runTool(
      'hydra',
      [
        '-l',
        user,
        '-P',
        list,
        '-s',
        port,
        '-t',
        '1',
        '-f',
        '-I',
        '127.0.0.1',
        'http-post-form',
        withCsrf
          ? `/login:email=^USER^&password=^PASS^&_csrf=${csrfToken}:2=:g=:H=Cookie\\: kw_csrf=${csrfCookie}:F=<title>Sign in`
          : '/login:email=^USER^&password=^PASS^:2=:g=:F=<title>Sign in',
      ],
      { timeoutMs: 180_000 },
    );

  // The control: hydra, set up this way, does find a password that is not throttled yet.
  const controlEmail = `control-${randomBytes(3).toString('hex')}@example.com`;
  const controlPassword = lib.strongPassword();
  await lib.must(mainUrl, 'POST', `/admin/tenants/${tenantId}/users`, {
    headers: { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN },
    body: { email: controlEmail, role: 'viewer', password: controlPassword },
  });
  const controlList = join(lib.workDir, 'brute-control.txt');
  writeFileSync(controlList, `wrong one\n${controlPassword}\nwrong two\n`);
  const control = await hydra(controlEmail, controlList, true);
  const controlNoCsrf = await hydra(controlEmail, controlList, false);

  const withoutToken = await hydra(email, wordlist, false);
  const withToken = await hydra(email, wordlist, true);

  const findings = [];
  const found = (out) => /\[\d+\]\[http-post-form\] host: .* password: /.exec(out);
  if (found(withoutToken.output))
    findings.push(`hydra without a CSRF token found a password: ${found(withoutToken.output)[0]}`);
  if (found(withToken.output)) findings.push(`hydra found the password: ${found(withToken.output)[0]}`);
  if (!found(control.output))
    findings.push(`control: hydra did not find a password it should find: ${control.output.slice(-400)}`);
  if (found(controlNoCsrf.output)) findings.push('hydra without a CSRF token signed in');
  if (!/0 valid password/.test(withToken.output))
    findings.push(`hydra did not complete: ${withToken.output.slice(-500)}`);

  // After the run: this address is blocked for this account, with Retry-After...
  const form = { _csrf: csrfToken, email, password };
  const blocked = await http(url, 'POST', '/login', { form, headers: { cookie: `kw_csrf=${csrfCookie}` } });
  const retryAfter = Number(blocked.headers['retry-after']);
  if (blocked.status !== 429 || !(retryAfter > 0))
    findings.push(
      `after the run the real password from the same address got ${blocked.status}, retry-after ${blocked.headers['retry-after']}`,
    );
  // ...and the account itself is not locked: from another address the real user signs in.
  const elsewhere = await http(url, 'POST', '/login', {
    form,
    headers: { cookie: `kw_csrf=${csrfCookie}` },
    from: '127.0.0.2',
  });
  if (elsewhere.status !== 303 || elsewhere.headers.location !== '/dashboard')
    findings.push(`the real user could not sign in from 127.0.0.2: ${elsewhere.status}`);
  if (elsewhere.headers['set-cookie']) lib.remember('session cookie', cookieOf(elsewhere, 'kw_session'));

  // What the service saw: attempts per status, from its log of requests is not needed; ask the audit log.
  const events = (
    await lib.must(mainUrl, 'GET', `/admin/audit-events?tenantId=${tenantId}&limit=100`, {
      headers: { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN },
    })
  ).json;
  const items = events.items ?? events;
  const failures = items.filter((e) => /login/.test(e.action) && e.outcome !== 'success').length;
  return {
    findings,
    figures: {
      words: words.length,
      'real at': 40,
      'hydra found': found(withToken.output) ? 1 : 0,
      'control found': found(control.output) ? 1 : 0,
      'control without CSRF found': found(controlNoCsrf.output) ? 1 : 0,
      'hydra exit': withToken.code,
      'without token exit': withoutToken.code,
      'failed sign-ins audited': failures,
      'after run': blocked.status,
      'retry-after s': retryAfter,
      'from 127.0.0.2': elsewhere.status,
    },
    hydraOutput: withToken.output,
  };
}

module.exports = { run };
