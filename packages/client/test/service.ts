import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { adminHeaders, createTenant, createUser, signIn } from '../../../test/helpers/identity';
import { createTestApp, TestApp } from '../../../test/helpers/test-app';

export interface IssuedKey {
  id: string;
  apiKey: string;
  tenantId: string;
  scopes: string[];
}

/** The real service on a real port, and a tenant with the keys a client needs. */
export interface Service {
  t: TestApp;
  url: string;
  tenantId: string;
  /** The calling service's own key: `keys:verify` only. */
  verifier: IssuedKey;
  issue(body?: {
    scopes?: string[];
    rateLimit?: { limit: number; windowSeconds: number };
    permissions?: string[];
    roles?: string[];
    /** Another tenant's, for keys the verifier must not see. */
    tenantId?: string;
  }): Promise<IssuedKey>;
  /** Defines tenant permissions and a role (name → its permissions), as the tenant's owner does. */
  define(permissions: string[], roles?: Record<string, string[]>): Promise<void>;
  /** A new tenant of the same service. */
  otherTenant(): Promise<string>;
  revoke(key: IssuedKey): Promise<void>;
  close(): Promise<void>;
}

export async function startService(): Promise<Service> {
  const t = await createTestApp({ listen: true });
  const tenant = await createTenant(t);
  const issue: Service['issue'] = async (body = {}) => {
    const res = await t.http
      .post('/admin/api-keys')
      .set(adminHeaders)
      .send({ tenantId: tenant.id, scopes: ['config:read'], ...body })
      .expect(201);
    return { id: res.body.id, apiKey: res.body.apiKey, tenantId: body.tenantId ?? tenant.id, scopes: res.body.scopes };
  };
  const manager = await issue({ scopes: ['keys:write'] });
  return {
    t,
    url: t.url!,
    tenantId: tenant.id,
    verifier: await issue({ scopes: ['keys:verify'] }),
    issue,
    async define(permissions, roles = {}) {
      const owner = (await signIn(t, await createUser(t, tenant.id, 'owner'))).auth;
      for (const name of permissions) await t.http.post('/v1/permissions').set(owner).send({ name }).expect(201);
      for (const [name, granted] of Object.entries(roles))
        await t.http.post('/v1/roles').set(owner).send({ name, permissions: granted }).expect(201);
    },
    otherTenant: async () => (await createTenant(t)).id,
    async revoke(key) {
      await t.http.delete(`/v1/api-keys/${key.id}`).set('x-api-key', manager.apiKey).expect(204);
    },
    close: () => t.close(),
  };
}

/** An HTTP server that accepts requests and never answers them, for timeouts. */
export async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}
