// Check 2: wapiti crawls and attacks the signed-in dashboard (a session cookie of its own
// owner, supplied as a wapiti cookie file) and the sign-in page. Pass: its JSON report lists
// no vulnerability and no anomaly (an anomaly is a 5xx or a timeout it provoked).
const { randomBytes } = require('node:crypto');
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const MODULES = 'sql,xss,exec,crlf,csrf,http_headers,cookieflags,csp,methods,backup';

/**
 * Findings we checked and do not count: the exact category and text, why, and a proof run by
 * this check (the proof failing makes the finding count again).
 */
const FALSE_POSITIVES = [
  {
    // The service sends `X-XSS-Protection: 0` on purpose (helmet's default, OWASP's advice): the
    // browsers' XSS auditor is gone and its "1" mode opened cross-site leaks; the CSP protects.
    // wapiti 3.0.4 accepts only a value containing "1".
    category: 'HTTP Secure Headers',
    info: 'X-XSS-Protection is not set',
    proof: ({ page }) => page.headers['x-xss-protection'] === '0',
  },
  {
    // This scan runs over plain http, where browsers ignore HSTS (RFC 6797 §8.1); with an https
    // PUBLIC_URL the service sends it, which the https instance below shows.
    category: 'HTTP Secure Headers',
    info: 'Strict-Transport-Security is not set',
    proof: ({ https }) => /max-age=\d+/.test(https.headers['strict-transport-security'] ?? ''),
  },
  {
    // Same reason: over http a Secure cookie would never be sent back. With an https PUBLIC_URL
    // both cookies are `__Host-` and Secure (shown below for kw_csrf, asserted for both in
    // test/dashboard.e2e-spec.ts).
    category: 'Secure Flag cookie',
    info: /^Secure flag is not set in the cookie : kw_(session|csrf)$/,
    proof: ({ https }) =>
      [].concat(https.headers['set-cookie'] ?? []).some((line) => /^__Host-kw_csrf=.*; Secure/i.test(line)),
  },
];

async function run({ lib, url, db, dataDirs }) {
  // A tenant and owner of its own: the scan submits every form it finds (disable users and
  // keys, rotate, revoke...), which would end the other checks' credentials.
  const tenantId = (
    await lib.must(url, 'POST', '/admin/tenants', {
      headers: { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN },
      body: { name: `Wapiti ${randomBytes(3).toString('hex')}` },
    })
  ).json.id;
  const email = `wapiti-${randomBytes(3).toString('hex')}@example.com`;
  const password = lib.strongPassword();
  await lib.must(url, 'POST', `/admin/tenants/${tenantId}/users`, {
    headers: { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN },
    body: { email, role: 'owner', password },
  });
  const session = await lib.dashboardSignIn(url, email, password, '127.0.8.1');
  // A key of its own to give the key pages something to show.
  await lib
    .must(url, 'POST', '/v1/api-keys', { headers: { cookie: `kw_session=${session}` }, body: { name: 'wapiti' } })
    .catch(() => undefined);

  const cookieFile = join(lib.workDir, 'wapiti-cookies.json');
  writeFileSync(
    cookieFile,
    JSON.stringify({
      '127.0.0.1': { '/': { kw_session: { value: session, version: 0, expires: null, secure: false, port: null } } },
    }),
  );
  const report = join(lib.workDir, 'wapiti-report.json');
  const logLinesBefore = requestLines(lib, 0).length;
  const result = await lib.runTool(
    '/usr/bin/python3', // the interpreter of Debian's wapiti
    [
      join(__dirname, 'wapiti-run.py'),
      '-u',
      `${url}/dashboard`,
      '-s',
      `${url}/login`,
      '--scope',
      'domain',
      // Not the scanner's business: signing itself out (its csrf module replays forms as they
      // are), changing its own password, ending its sessions.
      '-x',
      `${url}/logout`,
      '-x',
      `${url}/dashboard/account/password`,
      '-x',
      `${url}/dashboard/sessions/*`,
      '-c',
      cookieFile,
      '-m',
      MODULES,
      '--flush-session',
      '--store-session',
      join(lib.workDir, 'wapiti-session'),
      '--max-scan-time',
      '300',
      '--max-attack-time',
      '60',
      '-d',
      '3',
      '-t',
      '10',
      '-f',
      'json',
      '-o',
      report,
      '--no-bugreport',
    ],
    { timeoutMs: 420_000 },
  );
  const findings = [];
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(report, 'utf8'));
  } catch {
    return { findings: [`wapiti wrote no report (exit ${result.code}): ${result.output.slice(-800)}`], figures: {} };
  }
  // The proofs for the false positives: this instance's headers, and those of one with an https PUBLIC_URL.
  const page = await lib.http(url, 'GET', '/dashboard', { headers: { cookie: `kw_session=${session}` } });
  const httpsInstance = await lib.startService('https', {
    DATABASE_URL: db.url,
    DATA_DIR: dataDirs[0],
    PUBLIC_URL: 'https://keyward.example',
  });
  const https = await lib.http(httpsInstance.url, 'GET', '/login');
  await httpsInstance.stop();
  let filtered = 0;
  let reported = 0;
  for (const section of ['vulnerabilities', 'anomalies']) {
    for (const [category, items] of Object.entries(parsed[section] ?? {})) {
      for (const item of items) {
        reported++;
        const known = FALSE_POSITIVES.find(
          (fp) =>
            fp.category === category && (fp.info instanceof RegExp ? fp.info.test(item.info) : fp.info === item.info),
        );
        if (known && known.proof({ page, https })) {
          filtered++;
          continue;
        }
        findings.push(`${category}: ${item.method} ${item.path} ${item.parameter ?? ''} ${item.info}`);
      }
    }
  }
  // What the service saw of the scan (its request log): signed-in pages served, and no 5xx.
  const seen = requestLines(lib, logLinesBefore);
  const signedIn = seen.filter((line) => line.status === 200 && /^\/dashboard/.test(line.route)).length;
  const errors = seen.filter((line) => line.status >= 500).length;
  if (signedIn < 10) findings.push(`the scan reached only ${signedIn} signed-in pages (cookie not used?)`);
  if (errors) findings.push(`${errors} responses with 5xx during the scan`);
  return {
    findings,
    figures: {
      modules: MODULES.split(',').length,
      requests: seen.length,
      'signed-in pages': signedIn,
      '5xx': errors,
      reported,
      'filtered false positives': filtered,
      exit: result.code,
    },
  };
}

/** The request log lines of the main instance from line `from` on. */
function requestLines(lib, from) {
  const text = readFileSync(join(lib.workDir, 'main.log'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.includes('"msg":"request"'))
    .slice(from)
    .map((line) => JSON.parse(line));
}

module.exports = { run };
