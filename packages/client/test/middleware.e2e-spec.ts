import { Controller, Get, Module, Req, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import express from 'express';
import Fastify from 'fastify';
import { AddressInfo } from 'node:net';
import { KeywardClient, ValidKey } from '../src';
import { keywardMiddleware } from '../src/express';
import { keywardOnRequest, keywardPlugin } from '../src/fastify';
import { KeywardGuard, RequireScopes } from '../src/nest';
import { closedPortUrl, IssuedKey, Service, startService } from './service';

/** A tiny service of each framework with `GET /orders` (needs config:read) and `GET /any` (any valid key). */
interface TinyApp {
  url: string;
  close(): Promise<void>;
}

async function expressApp(client: KeywardClient): Promise<TinyApp> {
  const app = express();
  const answer = (req: express.Request, res: express.Response) => res.json({ keyId: req.keyward!.keyId });
  app.get('/orders', keywardMiddleware({ client, requiredScopes: ['config:read'] }), answer);
  app.get('/any', keywardMiddleware({ client }), answer);
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function fastifyApp(client: KeywardClient): Promise<TinyApp> {
  const app = Fastify();
  app.get('/orders', { onRequest: keywardOnRequest({ client, requiredScopes: ['config:read'] }) }, async (request) => ({
    keyId: request.keyward!.keyId,
  }));
  await app.register(async (scope) => {
    await scope.register(keywardPlugin, { client });
    scope.get('/any', async (request) => ({ keyId: request.keyward!.keyId }));
  });
  return { url: await app.listen({ port: 0, host: '127.0.0.1' }), close: () => app.close() };
}

@Controller()
@UseGuards(KeywardGuard)
class OrdersController {
  @Get('orders')
  @RequireScopes('config:read')
  orders(@Req() request: { keyward: ValidKey }) {
    return { keyId: request.keyward.keyId };
  }

  @Get('any')
  any(@Req() request: { keyward: ValidKey }) {
    return { keyId: request.keyward.keyId };
  }
}

async function nestApp(client: KeywardClient): Promise<TinyApp> {
  @Module({ controllers: [OrdersController], providers: [{ provide: KeywardClient, useValue: client }] })
  class OrdersModule {}
  const app = await NestFactory.create(OrdersModule, new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  return { url: await app.getUrl(), close: () => app.close() };
}

/** `status code` of a reply, or `200 <keyId>`. */
async function outcome(url: string, key?: string): Promise<string> {
  const res = await fetch(url, { headers: key === undefined ? {} : { 'x-api-key': key } });
  const body = (await res.json()) as { keyId?: string; code?: string };
  return `${res.status} ${res.ok ? body.keyId : body.code}`;
}

let service: Service;
beforeAll(async () => {
  service = await startService();
});
afterAll(() => service?.close());

describe.each([
  ['Express', expressApp],
  ['Fastify', fastifyApp],
  ['NestJS', nestApp],
])('%s guard against the real service', (_name, start) => {
  let app: TinyApp;
  let keys: Record<'valid' | 'narrow' | 'revoked' | 'limited' | 'foreign', IssuedKey>;
  beforeAll(async () => {
    app = await start(new KeywardClient({ baseUrl: service.url, apiKey: service.verifier.apiKey, cacheTtlMs: 0 }));
    keys = {
      valid: await service.issue({ scopes: ['config:read'] }),
      narrow: await service.issue({ scopes: ['keys:read'] }),
      revoked: await service.issue(),
      limited: await service.issue({ rateLimit: { limit: 1, windowSeconds: 3600 } }),
      foreign: await service.issue({ tenantId: await service.otherTenant() }),
    };
  });
  afterAll(() => app?.close());

  it('lets a valid key through with its identity and answers every refusal with its status and code', async () => {
    expect(await outcome(`${app.url}/orders`, keys.revoked.apiKey)).toBe(`200 ${keys.revoked.id}`);
    await service.revoke(keys.revoked);
    expect(await outcome(`${app.url}/any`, keys.limited.apiKey)).toBe(`200 ${keys.limited.id}`);
    expect({
      'no key': await outcome(`${app.url}/orders`),
      'empty key': await outcome(`${app.url}/orders`, ''),
      malformed: await outcome(`${app.url}/orders`, 'kw_not-a-key'),
      'other tenant': await outcome(`${app.url}/orders`, keys.foreign.apiKey),
      revoked: await outcome(`${app.url}/orders`, keys.revoked.apiKey),
      'missing scope': await outcome(`${app.url}/orders`, keys.narrow.apiKey),
      'no scope needed': await outcome(`${app.url}/any`, keys.narrow.apiKey),
      'rate-limited': await outcome(`${app.url}/any`, keys.limited.apiKey),
      valid: await outcome(`${app.url}/orders`, keys.valid.apiKey),
    }).toEqual({
      'no key': '401 KEY_MISSING',
      'empty key': '401 KEY_MISSING',
      malformed: '401 KEY_MALFORMED',
      'other tenant': '401 KEY_NOT_FOUND',
      revoked: '401 KEY_REVOKED',
      'missing scope': '403 INSUFFICIENT_SCOPE',
      'no scope needed': `200 ${keys.narrow.id}`,
      'rate-limited': '429 RATE_LIMITED',
      valid: `200 ${keys.valid.id}`,
    });
  });

  it('answers 503 KEYWARD_UNAVAILABLE, never lets the request through, when the key cannot be verified', async () => {
    const cut = await start(new KeywardClient({ baseUrl: await closedPortUrl(), apiKey: service.verifier.apiKey }));
    try {
      expect(await outcome(`${cut.url}/orders`, keys.valid.apiKey)).toBe('503 KEYWARD_UNAVAILABLE');
    } finally {
      await cut.close();
    }
  });
});

it("the guards' refusals carry the status the service gives the same key on its own API", async () => {
  const narrow = await service.issue({ scopes: ['keys:read'] });
  const revoked = await service.issue();
  await service.revoke(revoked);
  const app = await expressApp(new KeywardClient({ baseUrl: service.url, apiKey: service.verifier.apiKey }));
  try {
    for (const key of [undefined, 'kw_not-a-key', narrow.apiKey, revoked.apiKey]) {
      expect(await outcome(`${app.url}/orders`, key)).toBe(await outcome(`${service.url}/config`, key));
    }
  } finally {
    await app.close();
  }
});
