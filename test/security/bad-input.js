// Check: input that once crashed the service (500): JSON nested thousands deep on every JSON
// operation of the OpenAPI document, lone surrogates in names and config keys/values, numbers
// out of PostgreSQL's range in every numeric query parameter, and nested/repeated keys in the
// dashboard's form bodies. Pass: no 5xx, and every deep JSON body is a 400.
async function run({ lib, url, world }) {
  const findings = [];
  const owner = world.tenants[0].users.owner;
  const auth = { authorization: `Bearer ${owner.jwt}` };
  const doc = (await lib.must(url, 'GET', '/docs/json')).json;
  const concrete = (path) => path.replace(/\{id\}/g, owner.keys['keys:read'].id).replace(/\{(\w+)\}/g, 'x');
  let sent = 0;
  const check = async (label, method, path, options, wanted) => {
    const res = await lib.http(url, method, path, options);
    sent++;
    if (res.status >= 500 || (wanted && res.status !== wanted))
      findings.push(`${label}: ${method} ${path} → ${res.status} ${res.text.slice(0, 200)}`);
  };

  const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
  const deepArray = `{"name":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const m = method.toUpperCase();
      if (op.requestBody) {
        for (const body of [deep, deepArray]) {
          await check(
            'deep JSON',
            m,
            concrete(path),
            { body, headers: { ...auth, 'content-type': 'application/json' } },
            400,
          );
          await check(
            'deep JSON, admin',
            m,
            concrete(path),
            { body, headers: { 'x-admin-token': world.adminToken, 'content-type': 'application/json' } },
            400,
          );
        }
      }
      for (const param of (op.parameters ?? []).filter(
        (p) => p.in === 'query' && ['integer', 'number'].includes(p.schema?.type),
      )) {
        for (const value of ['99999999999999999999', '1e400', '-99999999999999999999', 'NaN', '0x10', '1.5']) {
          await check(`numeric query ${param.name}`, m, `${concrete(path)}?${param.name}=${value}`, {
            headers: path.startsWith('/admin') ? { 'x-admin-token': world.adminToken } : auth,
          });
        }
      }
    }
  }
  for (const page of ['/v1/api-keys', '/admin/tenants']) {
    await check(
      'page out of range',
      'GET',
      `${page}?page=99999999999999999999`,
      { headers: page.startsWith('/admin') ? { 'x-admin-token': world.adminToken } : auth },
      400,
    );
  }

  for (const text of ['\ud800', 'a\udfffb', 'x\u0000y']) {
    await check(
      'lone surrogate / NUL in a key name',
      'POST',
      '/v1/api-keys',
      { headers: auth, body: JSON.stringify({ name: text }) },
      400,
    );
    await check('lone surrogate / NUL in a config value', 'PUT', '/v1/config/entries/surrogate.value', {
      headers: auth,
      body: JSON.stringify({ value: { [text]: text } }),
    });
    await check('lone surrogate / NUL in a tenant name', 'POST', '/admin/tenants', {
      headers: { 'x-admin-token': world.adminToken },
      body: JSON.stringify({ name: text }),
    });
    await check('lone surrogate / NUL in a sign-in', 'POST', '/auth/login', {
      body: JSON.stringify({ email: `${text}@example.com`, password: text }),
    });
    await check('lone surrogate / NUL in report-leak', 'POST', '/v1/keys/report-leak', {
      body: JSON.stringify({ key: text, foundAt: text }),
    });
  }
  await check('lone surrogate in a config key', 'PUT', '/v1/config/entries/%ED%A0%80', {
    headers: auth,
    body: { value: 1 },
  });

  const bomb =
    Array.from({ length: 300 }, (_, i) => `a${'[0]'.repeat(60)}=${i}`).join('&') +
    '&' +
    Array.from({ length: 2000 }, () => 'email=x').join('&');
  const cookie = { cookie: `kw_session=${owner.session}`, 'content-type': 'application/x-www-form-urlencoded' };
  for (const path of [
    '/login',
    '/forgot',
    '/reset',
    '/invite',
    '/dashboard/keys',
    '/dashboard/config',
    '/dashboard/users/invitations',
    '/dashboard/account/password',
  ]) {
    await check('form bomb', 'POST', path, { headers: cookie, body: bomb });
  }
  return {
    findings,
    figures: {
      requests: sent,
      operations: Object.values(doc.paths).reduce((n, methods) => n + Object.keys(methods).length, 0),
    },
  };
}

module.exports = { run };
