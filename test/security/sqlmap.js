// Check 1: sqlmap at level 2 against every input that reaches a query: the sign-in form (with
// its CSRF token), forgot/reset and POST /auth/login JSON, the x-api-key header, and the :id and
// query parameters of the key and audit endpoints (the key list's owner filter is `owner`). 401/403/429 are ignored (they are the
// service's normal answers to bad credentials). Pass: no injection point reported and an empty
// log file in every target's output folder (sqlmap writes it only for injectable targets).
const { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

async function run({ lib, url, world }) {
  const owner = world.tenants[0].users.owner;
  const key = owner.keys['keys:read'].key;
  const keyId = owner.keys['keys:read'].id;
  const bearer = `Authorization: Bearer ${owner.jwt}`;
  const proxy = await lib.rotatingProxy(70);
  // --csrf-url cannot be combined with --threads, so the form runs on one thread.
  const targets = [
    {
      name: 'login-form',
      args: [
        '-u',
        `${url}/login`,
        '--data',
        `_csrf=x&email=${encodeURIComponent(owner.email)}&password=wrong`,
        '--csrf-token',
        '_csrf',
        '--csrf-url',
        `${url}/login`,
        '-p',
        'email,password',
      ],
    },
    {
      name: 'forgot',
      args: [
        '-u',
        `${url}/auth/password/forgot`,
        '--data',
        JSON.stringify({ email: owner.email }),
        '--headers',
        'Content-Type: application/json',
      ],
    },
    {
      name: 'reset',
      args: [
        '-u',
        `${url}/auth/password/reset`,
        '--data',
        JSON.stringify({ token: 'a'.repeat(43), newPassword: 'violet tractor sqlmap umbrella' }),
        '--headers',
        'Content-Type: application/json',
      ],
    },
    {
      name: 'auth-login',
      args: [
        '-u',
        `${url}/auth/login`,
        '--data',
        JSON.stringify({ email: owner.email, password: 'wrong password' }),
        '--headers',
        'Content-Type: application/json',
      ],
    },
    { name: 'x-api-key', args: ['-u', `${url}/auth/me`, '--headers', `x-api-key: ${key}*`] },
    { name: 'key-id', args: ['-u', `${url}/v1/api-keys/${keyId}*`, '--headers', bearer] },
    { name: 'key-list', args: ['-u', `${url}/v1/api-keys?status=active&owner=${owner.id}`, '--headers', bearer] },
    {
      name: 'audit',
      args: ['-u', `${url}/v1/audit-events?action=api_key.created&outcome=success`, '--headers', bearer],
    },
  ];
  const findings = [];
  const figures = { targets: targets.length, injectable: 0 };
  try {
    for (const target of targets) {
      const outputDir = join(lib.workDir, 'sqlmap', target.name);
      const result = await lib.runTool(
        'sqlmap',
        [
          ...target.args,
          '--batch',
          '--level=2',
          '--risk=1',
          '--ignore-code=401,403,429',
          '--skip-waf',
          `--threads=${target.name === 'login-form' ? 1 : 2}`,
          '--timeout=10',
          '--retries=1',
          '--disable-coloring',
          '--flush-session',
          '--proxy',
          proxy.url,
          `--output-dir=${outputDir}`,
        ],
        { timeoutMs: 240_000 },
      );
      // What the service answered: a target answered only 403/429 would not have been tested.
      const statuses = proxy.takeStatuses();
      figures[`${target.name} answers`] = Object.entries(statuses)
        .map(([code, count]) => `${code}x${count}`)
        .join(',');
      const reached = Object.entries(statuses)
        .filter(([code]) => !['401', '403', '429'].includes(code))
        .reduce((sum, [, count]) => sum + count, 0);
      if (reached === 0) findings.push(`${target.name}: no request got past authentication, CSRF or throttling`);
      mkdirSync(outputDir, { recursive: true });
      writeFileSync(join(outputDir, 'output.txt'), result.output);
      // sqlmap's verdict. A time-based "appears to be ... injectable" on a slow moment that its
      // own confirmation then rejects ("false positive or unexploitable") is counted, not failed.
      const injectable = /identified the following injection point/i.test(result.output);
      figures['rejected candidates'] =
        (figures['rejected candidates'] ?? 0) + (result.output.match(/false positive or unexploitable/g) ?? []).length;
      const logs = logFiles(outputDir).filter((file) => statSync(file).size > 0);
      if (result.signal) findings.push(`${target.name}: sqlmap killed after 240 s`);
      if (injectable || logs.length) {
        figures.injectable++;
        findings.push(
          `${target.name}: injection reported ${logs.map((f) => readFileSync(f, 'utf8').slice(0, 300)).join(' ')}`,
        );
      }
      if (
        !/all tested parameters do not appear to be injectable|does not seem to be injectable/.test(result.output) &&
        !injectable
      ) {
        findings.push(`${target.name}: sqlmap did not finish its tests: ${result.output.slice(-600)}`);
      }
    }
  } finally {
    proxy.close();
  }
  figures.requests = proxy.requests();
  return { findings, figures };
}

function logFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .filter((f) => String(f).endsWith('log'))
    .map((f) => join(dir, String(f)));
}

module.exports = { run };
