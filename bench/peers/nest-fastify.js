// The framework with nothing of ours: a NestJS + Fastify app as `nest new` with
// @nestjs/platform-fastify makes it (the same package versions as the service). PORT from the
// environment. Plain JavaScript, so the decorators are applied by hand.
//   GET /hello   the hello route
//   POST /verify a route of the shape of POST /v1/keys/verify with none of its work: it parses the
//                JSON body and answers an object of the same size as Keyward's answer, so that
//                what a POST costs the framework itself is measured beside Keyward's verify.
require('reflect-metadata');
const { Body, Controller, Get, HttpCode, Module, Post } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { FastifyAdapter } = require('@nestjs/platform-fastify');

const VERIFY_ANSWER = {
  valid: true,
  code: 'VALID',
  keyId: '161ad739-93b1-4680-a981-d8e300a20e08',
  name: 'k',
  tenantId: '9e1959bb-d6a3-4858-a3c2-74acb4326604',
  ownerId: null,
  identity: null,
  permissions: [],
  roles: [],
  scopes: ['config:read'],
  meta: {},
  expiresAt: null,
  remaining: null,
};

class HelloController {
  hello() {
    return { status: 'ok' };
  }

  verify(body) {
    return {
      ...VERIFY_ANSWER,
      name: String(body.key).slice(0, 1),
      ratelimits: [{ name: 'default', limit: 1000000, remaining: 999998, reset: Date.now() + 1000 }],
    };
  }
}
const method = (name) => [
  HelloController.prototype,
  name,
  Object.getOwnPropertyDescriptor(HelloController.prototype, name),
];
Controller()(HelloController);
Get('hello')(...method('hello'));
Post('verify')(...method('verify'));
HttpCode(200)(...method('verify'));
Body()(HelloController.prototype, 'verify', 0);

class HelloModule {}
Module({ controllers: [HelloController] })(HelloModule);

async function main() {
  const app = await NestFactory.create(HelloModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  process.stdout.write('listening\n');
}
void main();
