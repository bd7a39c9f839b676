// Check 2: wapiti crawls and attacks the signed-in dashboard (a session cookie of its own
// owner, supplied as a wapiti cookie file) and the sign-in page. Pass: its JSON report lists
// no vulnerability and no anomaly (an anomaly is a 5xx or a timeout it provoked).
const { randomBytes } = require('node:crypto');
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const MODULES = 'sql,xss,exec,crlf,csrf,http_headers,cookieflags,csp,methods,backup';

/**
 * Findings we checked and do not count; each entry names the module, the exact finding and why.
 * (Empty: every finding wapiti reports fails the check.)
 */
const FALSE_POSITIVES = [];

async function run({ lib, url, world }) {
  // A user of its own: the scan submits every form it finds (disable, rotate, revoke...).
  const tenantId = world.tenants[0].id;
  const email = `wapiti-${randomBytes(3).toString('hex')}@example.com`;
  const password = lib.strongPassword();
  await lib.must(url, 'POST', `/admin/tenants/${tenantId}/users`, { headers: { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN }, body: { email, role: 'owner', password } });
  const session = await lib.dashboardSignIn(url, email, password, '127.0.8.1');
  // A key of its own to give the key pages something to show.
  await lib.must(url, 'POST', '/v1/api-keys', { headers: { cookie: `kw_session=${session}` }, body: { name: 'wapiti' } }).catch(() => undefined);

  const cookieFile = join(lib.workDir, 'wapiti-cookies.json');
  writeFileSync(cookieFile, JSON.stringify({ '127.0.0.1': { '/': { kw_session: { value: session, version: 0, expires: null, secure: false, port: null } } } }));
  const report = join(lib.workDir, 'wapiti-report.json');
  const result = await lib.runTool(
    'wapiti',
    [
      '-u', `${url}/dashboard`,
      '-s', `${url}/login`,
      '--scope', 'domain',
      // No -x: wapiti 3.0.4's exclusion patterns do not compile on Python 3.11 ("global flags
      // not at the start"). Nothing needs excluding: the crawler only follows links, and a form
      // it attacks keeps its valid _csrf, so sign-out and password change fail on the payload.
      '-c', cookieFile,
      '-m', MODULES,
      '--flush-session',
      '--store-session', join(lib.workDir, 'wapiti-session'),
      '--max-scan-time', '300',
      '--max-attack-time', '60',
      '-d', '3',
      '-t', '10',
      '-f', 'json',
      '-o', report,
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
  let filtered = 0;
  for (const section of ['vulnerabilities', 'anomalies']) {
    for (const [category, items] of Object.entries(parsed[section] ?? {})) {
      for (const item of items) {
        if (FALSE_POSITIVES.some((fp) => fp.category === category && fp.match(item))) {
          filtered++;
          continue;
        }
        findings.push(`${category}: ${item.method} ${item.path} ${item.parameter ?? ''} ${item.info}`);
      }
    }
  }
  const crawled = parsed.infos?.crawled_pages_nbr ?? parsed.infos?.crawled_pages?.length ?? '?';
  const loggedIn = result.output.includes('/dashboard/keys') || JSON.stringify(parsed.infos ?? {}).includes('/dashboard/keys');
  if (!loggedIn) findings.push('the scan did not reach the signed-in pages (cookie not used?)');
  return { findings, figures: { modules: MODULES.split(',').length, 'pages crawled': crawled, 'filtered false positives': filtered, 'exit': result.code } };
}

module.exports = { run };
