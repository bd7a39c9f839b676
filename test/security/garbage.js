// Check 4: garbage in. wfuzz sends Debian's injection lists into every JSON field of the routes
// that take untrusted input and into the x-api-key header; then a fast-check property sends
// random bodies, headers, query strings and path parameters to every route of the OpenAPI
// document. Pass: no 5xx, no answer slower than 1 s, and the same process still healthy.
const { readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const fc = require('fast-check');

/** Node's default --max-http-header-size: request line and headers together. */
const MAX_HEAD_BYTES = 16 * 1024;

const LISTS = '/usr/share/wfuzz/wordlist/Injections';
const SLOW_MS = 1000;

async function run({ lib, url, world, main }) {
  const findings = [];
  const owner = world.tenants[1].users.owner;
  const bearer = `Authorization: Bearer ${owner.jwt}`;

  // One list of every payload (the files overlap), without blank lines.
  const payloads = [
    ...new Set(readdirSync(LISTS).flatMap((file) => readFileSync(join(LISTS, file), 'utf8').split('\n'))),
  ].filter((line) => line.trim());
  const wordlist = join(lib.workDir, 'injections.txt');
  writeFileSync(wordlist, payloads.join('\n') + '\n');

  const json = (body) => ['-H', 'Content-Type: application/json', '-d', JSON.stringify(body).replace('"@@"', '"FUZZ"')];
  const targets = [
    ['POST /auth/login email', '/auth/login', json({ email: '@@', password: 'x' })],
    ['POST /auth/login password', '/auth/login', json({ email: owner.email, password: '@@' })],
    ['POST /auth/refresh refreshToken', '/auth/refresh', json({ refreshToken: '@@' })],
    ['POST /auth/password/forgot email', '/auth/password/forgot', json({ email: '@@' })],
    [
      'POST /auth/password/reset token',
      '/auth/password/reset',
      json({ token: '@@', newPassword: 'violet tractor wfuzz umbrella' }),
    ],
    [
      'POST /auth/password/reset newPassword',
      '/auth/password/reset',
      json({ token: 'x'.repeat(43), newPassword: '@@' }),
    ],
    [
      'POST /auth/invitations/accept token',
      '/auth/invitations/accept',
      json({ token: '@@', password: 'violet tractor wfuzz umbrella' }),
    ],
    ['POST /v1/keys/report-leak key', '/v1/keys/report-leak', json({ key: '@@' })],
    ['POST /v1/api-keys name', '/v1/api-keys', [...json({ name: '@@', service: true }), '-H', bearer]],
    ['POST /v1/api-keys expiresAt', '/v1/api-keys', [...json({ expiresAt: '@@' }), '-H', bearer]],
    ['POST /v1/api-keys scopes', '/v1/api-keys', [...json({ scopes: ['@@'] }), '-H', bearer]],
    [
      'PATCH /v1/api-keys/:id name',
      `/v1/api-keys/${world.tenants[1].users.owner.keys['keys:read'].id}`,
      [...json({ name: '@@' }), '-H', bearer, '-X', 'PATCH'],
    ],
    [
      'PUT /v1/config/entries/:key value',
      '/v1/config/entries/fuzz.value',
      [...json({ value: '@@' }), '-H', bearer, '-X', 'PUT'],
    ],
    [
      'PUT /v1/config/entries/FUZZ',
      '/v1/config/entries/FUZZ',
      ['-H', 'Content-Type: application/json', '-d', '{"value":1}', '-H', bearer, '-X', 'PUT'],
    ],
    [
      'POST /v1/users/invitations email',
      '/v1/users/invitations',
      [...json({ email: '@@', role: 'viewer' }), '-H', bearer],
    ],
    ['GET /auth/me x-api-key', '/auth/me', ['-H', 'x-api-key: FUZZ']],
    ['GET /v1/audit-events?action=', '/v1/audit-events?action=FUZZ', ['-H', bearer]],
  ];
  const proxy = await lib.rotatingProxy(80);
  let wfuzzRequests = 0;
  try {
    for (const [label, path, args] of targets) {
      const result = await lib.runTool(
        'wfuzz',
        [
          '-z',
          `file,${wordlist}`,
          ...args,
          '-p',
          `${new URL(proxy.url).host}:HTTP`,
          '-t',
          '4',
          '--hc',
          '999',
          '-o',
          'raw',
          `${url}${path}`,
        ],
        { timeoutMs: 180_000 },
      );
      const statuses = proxy.takeStatuses();
      const count = Object.values(statuses).reduce((a, b) => a + b, 0);
      wfuzzRequests += count;
      const errors = Object.entries(statuses).filter(([code]) => Number(code) >= 500);
      if (errors.length) findings.push(`wfuzz ${label}: ${errors.map(([c, n]) => `${n}×${c}`).join(', ')}`);
      if (count < payloads.length * 0.9)
        findings.push(
          `wfuzz ${label}: only ${count} of ${payloads.length} requests reached the service (exit ${result.code}) ${result.output.slice(-300)}`,
        );
    }
  } finally {
    proxy.close();
  }
  findings.push(...proxy.slow().map((line) => `slower than ${SLOW_MS} ms: ${line}`));

  // fast-check over the OpenAPI document.
  const doc = (await lib.must(url, 'GET', '/docs/json')).json;
  const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path: path.replace(/\{(\w+)\}/g, ':$1') })),
  );
  const credentials = [
    {},
    { authorization: `Bearer ${owner.jwt}` },
    { 'x-api-key': world.tenants[1].allKey.key },
    { 'x-admin-token': lib.baseEnv.ADMIN_TOKEN },
  ];
  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.constantFrom('', 'null', '-1', '0', '9'.repeat(40), 'a'.repeat(5000), '../../etc/passwd', '%00', '{}', '[]'),
  );
  const body = fc.oneof(
    fc.jsonValue(),
    fc.dictionary(
      fc.constantFrom(
        'name',
        'email',
        'password',
        'token',
        'scopes',
        'value',
        'key',
        'expiresAt',
        'role',
        'status',
        'rateLimit',
        'quota',
        'metadata',
        '__proto__',
        'constructor',
      ),
      fc.jsonValue(),
    ),
    text,
  );
  const contentType = fc.constantFrom(
    'application/json',
    'application/x-www-form-urlencoded',
    'text/plain',
    'application/json; charset=latin1',
    'multipart/form-data; boundary=x',
    '',
  );
  const extraHeaders = fc.dictionary(
    fc.constantFrom(
      'x-api-key',
      'authorization',
      'x-admin-token',
      'x-request-id',
      'accept',
      'x-csrf-token',
      'cookie',
      'x-forwarded-for',
      'idempotency-key',
    ),
    fc.string({ maxLength: 200 }).map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
  );
  let cases = 0;
  let maxMs = 0;
  const property = fc.asyncProperty(
    fc.constantFrom(...operations),
    fc.array(text, { minLength: 3, maxLength: 3 }),
    fc.constantFrom(...credentials),
    extraHeaders,
    contentType,
    fc.option(body),
    fc.dictionary(
      fc.constantFrom('page', 'limit', 'status', 'ownerId', 'action', 'outcome', 'from', 'to', 'q', 'cursor'),
      text,
    ),
    async (op, params, auth, headers, type, payload, query) => {
      let i = 0;
      // toWellFormed: a lone surrogate cannot be put in a URL at all (encodeURIComponent throws).
      const path = op.path.replace(/:\w+/g, () => encodeURIComponent(params[i++ % 3].toWellFormed()) || 'x');
      const qs = new URLSearchParams(query).toString();
      const options = { headers: { ...headers, ...auth } };
      if (payload !== null && op.method !== 'GET') {
        options.body = typeof payload === 'string' ? payload : JSON.stringify(payload);
        if (type) options.headers['content-type'] = type;
      }
      cases++;
      const target = `${path}${qs ? `?${qs}` : ''}`;
      let res;
      try {
        res = await lib.http(url, op.method, target, options);
      } catch (error) {
        // A request head over Node's 16 KiB limit is answered 431 and its socket closed at once,
        // so a client still writing may see the reset first. That is the limit working; the
        // process's health is checked after the run.
        const head =
          target.length + Object.entries(options.headers).reduce((n, [k, v]) => n + k.length + String(v).length + 4, 0);
        if (head > MAX_HEAD_BYTES && ['ECONNRESET', 'EPIPE'].includes(error.code)) return;
        throw new Error(
          `${error.message} (${error.code}; request head ${head} bytes, body ${options.body?.length ?? 0})`,
        );
      }
      maxMs = Math.max(maxMs, res.ms);
      if (res.status >= 500) throw new Error(`${op.method} ${path} → ${res.status} ${res.text.slice(0, 200)}`);
      if (res.ms > SLOW_MS) throw new Error(`${op.method} ${path} took ${Math.round(res.ms)} ms`);
    },
  );
  const outcome = await fc.check(property, {
    numRuns: Number(process.env.SECURITY_FUZZ_RUNS ?? 1500),
    seed: process.env.SECURITY_FUZZ_SEED ? Number(process.env.SECURITY_FUZZ_SEED) : undefined,
  });
  if (outcome.failed)
    findings.push(
      `fast-check (seed ${outcome.seed}, path ${outcome.counterexamplePath}): ${outcome.errorInstance?.message ?? outcome.error} for ${fc.stringify(outcome.counterexample).slice(0, 400)}`,
    );

  // Still the same healthy process.
  const health = await lib.http(url, 'GET', '/health');
  if (health.status !== 200 || main.child.exitCode !== null)
    findings.push(`after the garbage: /health ${health.status}, exit code ${main.child.exitCode}`);
  return {
    findings,
    figures: {
      payloads: payloads.length,
      'wfuzz targets': targets.length,
      'wfuzz requests': wfuzzRequests,
      'wfuzz max ms': Math.round(proxy.maxMs()),
      'openapi operations': operations.length,
      'fast-check cases': cases,
      'fast-check max ms': Math.round(maxMs),
      health: health.status,
      pid: main.child.pid,
    },
  };
}

module.exports = { run };
