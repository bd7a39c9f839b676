// The framework with nothing of ours: a NestJS + Fastify app with one hello route, as `nest new`
// with @nestjs/platform-fastify makes it (the same package versions as the service). PORT from
// the environment. Plain JavaScript, so the decorators are applied by hand.
require('reflect-metadata');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { FastifyAdapter } = require('@nestjs/platform-fastify');

class HelloController {
  hello() {
    return { status: 'ok' };
  }
}
Controller()(HelloController);
Get('hello')(HelloController.prototype, 'hello', Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello'));

class HelloModule {}
Module({ controllers: [HelloController] })(HelloModule);

async function main() {
  const app = await NestFactory.create(HelloModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  process.stdout.write('listening\n');
}
void main();
