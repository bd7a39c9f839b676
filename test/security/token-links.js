// Check: an invitation link opened the way a browser opens it (the link, its redirect, the
// page's stylesheet and the form post, each with the Referer a browser would send) must leave
// its token nowhere in the service's log. Then the token's later use must still work, so the
// check cannot pass by breaking the flow.
const { readFileSync } = require('node:fs');
const { randomBytes } = require('node:crypto');

/** A small browser: keeps cookies by name and sends the page it is on as Referer. */
function browser(lib, url, from) {
  const cookies = new Map();
  let at;
  const keep = (res) => {
    for (const line of [].concat(res.headers['set-cookie'] ?? [])) {
      const [pair] = line.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      if (!value || /expires=thu, 01 jan 1970/i.test(line)) cookies.delete(name);
      else cookies.set(name, value);
    }
    return res;
  };
  const headers = (requestId) => ({
    cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    'x-request-id': requestId,
    ...(at ? { referer: new URL(at, url).href } : {}),
  });
  return {
    /** Navigates, following redirects like a browser; the final URL becomes the Referer. */
    async open(path, requestId) {
      for (let hops = 0; hops < 5; hops++) {
        const res = keep(await lib.http(url, 'GET', path, { from, headers: headers(requestId) }));
        if (res.status < 300 || res.status >= 400) {
          at = path;
          return res;
        }
        path = res.headers.location;
      }
      throw new Error(`too many redirects from ${path}`);
    },
    async fetch(path, requestId) {
      return keep(await lib.http(url, 'GET', path, { from, headers: headers(requestId) }));
    },
    async post(path, form, requestId) {
      return keep(await lib.http(url, 'POST', path, { from, form, headers: headers(requestId) }));
    },
  };
}

/** Resolves once the log holds a line with this request id (the service writes it when the response is done). */
async function logged(logFile, requestId, timeoutMs = 5_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = readFileSync(logFile, 'utf8');
    if (text.includes(`"requestId":"${requestId}"`)) return text;
    if (Date.now() > until) throw new Error(`no log line for ${requestId}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function run({ lib, url, main, world }) {
  const findings = [];
  const admin = { 'x-admin-token': world.adminToken };
  const tenant = world.tenants[0];
  const email = `invited-${randomBytes(4).toString('hex')}@example.com`;
  const created = (
    await lib.must(
      url,
      'POST',
      `/admin/tenants/${tenant.id}/users`,
      { headers: admin, body: { email, role: 'member' } },
      201,
    )
  ).json;
  const link = new URL(created.inviteUrl);
  const token = lib.remember('invitation token', link.searchParams.get('token'));
  const mark = `token-links-${randomBytes(4).toString('hex')}`;

  // An address of its own: the per-address throttles of earlier checks stay out of it.
  const guest = browser(lib, url, '127.0.77.1');
  const page = await guest.open(`${link.pathname}${link.search}`, `${mark}-1`);
  if (page.status !== 200) findings.push(`the invitation link ended in ${page.status}, not the form`);
  if (page.headers['referrer-policy'] !== 'no-referrer')
    findings.push(`the invitation page sends Referrer-Policy ${page.headers['referrer-policy']}`);
  if (page.text.includes(token)) findings.push('the invitation page carries the token in its HTML');
  await guest.fetch('/static/dashboard.css', `${mark}-2`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
  const password = lib.strongPassword();
  const accepted = await guest.post('/invite', { _csrf: csrf, password }, `${mark}-3`);
  if (accepted.status !== 303 || !String(accepted.headers.location).startsWith('/login'))
    findings.push(`accepting the invitation → ${accepted.status}`);
  const signIn = await lib.http(url, 'POST', '/auth/login', { body: { email, password }, from: '127.0.77.1' });
  if (signIn.status !== 200) findings.push(`the invited user cannot sign in (${signIn.status})`);
  else lib.remember('access token', signIn.json.accessToken);

  const log = await logged(main.logFile, `${mark}-3`);
  const lines = log.split('\n').filter((line) => line.includes(token));
  for (const line of lines) findings.push(`the token is in the log: ${line.slice(0, 300)}`);
  const requests = log.split('\n').filter((line) => line.includes(mark)).length;
  return { findings, figures: { 'logged requests': requests, 'lines with the token': lines.length } };
}

module.exports = { run };
