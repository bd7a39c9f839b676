// Check 5: every route × every credential of two tenants × four roles, against the reviewed
// access table in test/route-access.e2e-spec.ts. The expected outcome of a cell is derived from
// that table by the RULES below, written once; the cross-tenant cells expect 404.
const { randomUUID } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const ROLE_SCOPES = {
  owner: [
    'keys:read',
    'keys:write',
    'config:read',
    'config:write',
    'config:secrets',
    'users:read',
    'audit:read',
    'keys:verify',
    'permissions:read',
    'permissions:write',
  ],
  admin: [
    'keys:read',
    'keys:write',
    'config:read',
    'config:write',
    'config:secrets',
    'users:read',
    'audit:read',
    'keys:verify',
    'permissions:read',
    'permissions:write',
  ],
  member: ['keys:read', 'keys:write', 'config:read', 'users:read', 'permissions:read'],
  viewer: ['keys:read', 'config:read', 'users:read', 'permissions:read'],
};

/** The reviewed table, read from the e2e test so there is one list of routes. */
function routeTable(root) {
  const source = readFileSync(join(root, 'test', 'route-access.e2e-spec.ts'), 'utf8');
  const block = source.slice(source.indexOf('const EXPECTED'), source.indexOf('};', source.indexOf('const EXPECTED')));
  return [...block.matchAll(/'([A-Z]+) ([^']+)': '([^']+)'/g)].map(([, method, path, rule]) => ({
    method: method === 'ALL' ? 'GET' : method,
    path,
    rule: parseRule(rule),
  }));
}

function parseRule(marked) {
  // "; direct" says how the route is served (without Nest's router), not who may reach it.
  const text = marked.replace(/; direct$/, '');
  if (text === 'public' || text === 'adminToken' || text === 'forwardAuth' || text === 'operator')
    return { type: text };
  const rule = { type: 'authenticated', via: [], roles: null, scopes: [] };
  for (const part of text.split('; ')) {
    const [word, list] = part.split(' ');
    if (word === 'via') rule.via = list.split('|');
    if (word === 'roles') rule.roles = list.split('|');
    if (word === 'scopes') rule.scopes = part.slice('scopes '.length).split(' ');
  }
  return rule;
}

/**
 * THE RULES: may this credential reach this route? A credential is
 * { kind: 'session'|'jwt', role } | { kind: 'apiKey', scopes } | { kind: 'admin' } | { kind: 'operator' }
 * (an operator's console session) | { kind: 'none' }.
 * Users hold the scopes of their role (ROLE_SCOPES); keys hold theirs and have no role.
 */
function allowed(rule, cred) {
  if (rule.type === 'public') return true;
  if (rule.type === 'adminToken') return cred.kind === 'admin';
  if (rule.type === 'operator') return cred.kind === 'operator'; // tenant members of any role are refused
  if (rule.type === 'forwardAuth') return cred.kind === 'apiKey'; // any valid key, whatever its scopes
  if (!rule.via.includes(cred.kind)) return false;
  const scopes = cred.kind === 'apiKey' ? cred.scopes : ROLE_SCOPES[cred.role];
  if (cred.kind !== 'apiKey' && rule.roles && !rule.roles.includes(cred.role)) return false;
  return rule.scopes.every((scope) => scopes.includes(scope));
}

/** A refusal: 401/403, or for a page the exception filter's bare redirect to /login (a sign-out adds ?flash=). */
const isDenied = (res) =>
  res.status === 401 || res.status === 403 || (res.status === 303 && res.headers.location === '/login');

// Routes that end the credential making the call run last, in this order, so each kills only
// credentials no later route accepts.
const SELF_ENDING = [
  'DELETE /auth/api-key',
  'POST /auth/logout',
  'POST /dashboard/sessions/others/revoke',
  'POST /logout',
  'POST /operator/logout',
];

async function run({ lib, url }) {
  const { http, must, cookieOf } = lib;
  const world = await lib.seed(url); // a world of its own: this check signs out and revokes
  const routes = routeTable(lib.ROOT);
  const order = (r) => SELF_ENDING.indexOf(`${r.method} ${r.path}`);
  routes.sort((a, b) => order(a) - order(b));

  // A CSRF pair, so the dashboard forms reach their handlers instead of the CSRF guard.
  const login = await http(url, 'GET', '/login');
  const csrfCookie = cookieOf(login, 'kw_csrf');
  const csrfToken = /name="_csrf" value="([^"]+)"/.exec(login.text)[1];

  const creds = [
    { kind: 'none', label: 'nothing' },
    { kind: 'admin', label: 'admin token', headers: { 'x-admin-token': world.adminToken } },
    {
      kind: 'operator',
      label: 'operator session',
      cookie: `kw_session=${world.operator.session}`,
      page: '/operator/tenants',
    },
  ];
  for (const tenant of world.tenants) {
    for (const [role, user] of Object.entries(tenant.users)) {
      creds.push({
        kind: 'session',
        role,
        label: `${tenant.label}/${role}/session`,
        cookie: `kw_session=${user.session}`,
      });
      creds.push({
        kind: 'jwt',
        role,
        label: `${tenant.label}/${role}/jwt`,
        headers: { authorization: `Bearer ${user.jwt}` },
      });
    }
    for (const [scope, key] of Object.entries(tenant.users.owner.keys)) {
      creds.push({
        kind: 'apiKey',
        scopes: [scope],
        label: `${tenant.label}/key ${scope}`,
        headers: { 'x-api-key': key.key },
      });
    }
  }

  // A session's forms need a token bound to that session: take it from a page it can see.
  for (const cred of creds.filter((c) => c.kind === 'session' || c.kind === 'operator')) {
    const page = await http(url, 'GET', cred.page ?? '/dashboard', {
      headers: { cookie: `kw_csrf=${csrfCookie}; ${cred.cookie}` },
    });
    cred.csrfToken = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
  }

  const send = (route, cred, path, jsonBody = { notAField: 1 }) => {
    const token = cred.csrfToken ?? csrfToken;
    const headers = {
      ...cred.headers,
      cookie: [`kw_csrf=${csrfCookie}`, cred.cookie].filter(Boolean).join('; '),
      'x-csrf-token': token,
    };
    const isPage = !/^\/(v1|auth|admin|config|health|ready)\b/.test(route.path);
    const options = { headers };
    // An unknown field: allowed JSON calls stop at validation (400) instead of changing things.
    if (route.method !== 'GET') Object.assign(options, isPage ? { form: { _csrf: token } } : { body: jsonBody });
    return http(url, route.method, path, options);
  };

  const findings = [];
  let cells = 0;
  // Cross-tenant: tenant a's most powerful credential of each kind, aimed at tenant b's things.
  const [a, b] = world.tenants;
  const bOwner = { authorization: `Bearer ${b.users.owner.jwt}` };
  const bSession = (await must(url, 'GET', '/auth/sessions', { headers: bOwner })).json;
  const bSessionId = (bSession.items ?? bSession)[0].id;
  await must(url, 'PUT', '/v1/config/entries/only.in.b', { headers: bOwner, body: { value: 1 } });
  // A permission and a role only b defines: a's credentials must find neither.
  await must(url, 'POST', '/v1/permissions', { headers: bOwner, body: { name: 'only.in.b' } }, 201);
  await must(
    url,
    'POST',
    '/v1/roles',
    { headers: bOwner, body: { name: 'only.in.b', permissions: ['only.in.b'] } },
    201,
  );
  await must(url, 'POST', '/v1/identities', { headers: bOwner, body: { externalId: 'only.in.b' } });
  const targets = {
    '/auth/sessions/:id': bSessionId,
    '/dashboard/sessions/:id': bSessionId,
    '/v1/users/:id': b.users.member.id,
    '/dashboard/users/:id': b.users.member.id,
    '/v1/api-keys/:id': b.users.owner.keys['keys:read'].id,
    '/dashboard/keys/:id': b.users.owner.keys['keys:read'].id,
    '/auth/api-key/revoke/:key': b.users.owner.keys['keys:read'].id,
    '/v1/config/entries/:key': 'only.in.b',
    '/dashboard/config/:key': 'only.in.b',
    '/v1/permissions/:name': 'only.in.b',
    '/v1/roles/:name': 'only.in.b',
    '/v1/identities/:externalId': 'only.in.b',
  };
  const strongest = {
    session: creds.find((c) => c.label === 'a/owner/session'),
    jwt: {
      kind: 'jwt',
      role: 'owner',
      label: 'a/owner/jwt',
      headers: { authorization: `Bearer ${a.users.owner.jwt}` },
    },
    apiKey: { kind: 'apiKey', label: 'a/key all scopes', headers: { 'x-api-key': a.allKey.key } },
  };
  let crossCells = 0;
  for (const route of routes) {
    if (route.rule.type !== 'authenticated' || route.method === 'PUT') continue; // PUT of a config name creates a's own entry
    const prefix = Object.keys(targets).find((p) => route.path.startsWith(p));
    if (!prefix) continue;
    const param = prefix.slice(prefix.lastIndexOf(':'));
    const path = route.path.replace(param, encodeURIComponent(targets[prefix]));
    for (const via of route.rule.via) {
      const res = await send(route, strongest[via], path, {}); // a valid body: a leak would act
      cells++;
      crossCells++;
      if (res.status !== 404)
        findings.push(`cross-tenant ${route.method} ${path} with ${strongest[via].label}: ${res.status}, expected 404`);
    }
  }
  // A person of tenant a only cannot move into b: by API (409, their tenants list a alone) or
  // from the dashboard's chooser (400), and the refused attempt leaves them signed in to a.
  const intoB = [
    await http(url, 'POST', '/auth/switch-tenant', { headers: strongest.jwt.headers, body: { tenantId: b.id } }),
    await http(url, 'POST', '/dashboard/tenants', {
      headers: { cookie: `kw_csrf=${csrfCookie}; ${strongest.session.cookie}` },
      form: { _csrf: strongest.session.csrfToken, tenantId: b.id },
    }),
  ];
  cells += 2;
  crossCells += 2;
  if (intoB[0].status !== 409 || intoB[0].json?.code !== 'TENANT_REQUIRED')
    findings.push(`cross-tenant POST /auth/switch-tenant into b with a/owner/jwt: ${intoB[0].status}, expected 409`);
  if (intoB[1].status !== 400)
    findings.push(`cross-tenant POST /dashboard/tenants into b with a/owner/session: ${intoB[1].status}, expected 400`);
  const listed = await http(url, 'GET', '/auth/tenants', { headers: strongest.jwt.headers });
  cells++;
  crossCells++;
  if (listed.status !== 200 || listed.json.map((tenant) => tenant.id).join() !== a.id)
    findings.push(
      `GET /auth/tenants with a/owner/jwt: ${listed.status} ${listed.text.slice(0, 120)}, expected a alone`,
    );
  const stillA = await http(url, 'GET', '/auth/me', { headers: strongest.jwt.headers });
  if (stillA.json?.tenant?.id !== a.id) findings.push(`a/owner/jwt after the refused switch: ${stillA.status}`);

  for (const route of routes) {
    const path = route.path
      .replace(/:id/g, randomUUID())
      .replace(/:key/g, 'no.such.key')
      .replace(/:name/g, 'no.such.name')
      .replace(/:externalId/g, 'no.such.identity');
    for (const cred of creds) {
      const res = await send(route, cred, path);
      cells++;
      const expectAllowed = allowed(route.rule, cred);
      const denied = isDenied(res);
      if (expectAllowed === denied || res.status >= 500) {
        findings.push(
          `${route.method} ${route.path} with ${cred.label}: ${res.status}, expected ${expectAllowed ? 'allowed' : 'denied'} ${res.text.slice(0, 120)}`,
        );
      }
    }
  }

  return {
    findings,
    figures: {
      routes: routes.length,
      credentials: creds.length,
      cells,
      'cross-tenant cells': crossCells,
      unexpected: findings.length,
    },
  };
}

module.exports = { run, routeTable, allowed };
