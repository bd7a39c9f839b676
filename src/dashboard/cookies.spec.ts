import Fastify from 'fastify';
import { readCookies, registerCookies } from './cookies';

async function server() {
  const fastify = Fastify();
  registerCookies(fastify);
  fastify.addHook('onRequest', (request, _reply, done) => (readCookies(request), done()));
  fastify.get('/echo', (request) => request.cookies);
  fastify.get('/set', (_request, reply) => {
    reply.setCookie('a', 'first', { path: '/', httpOnly: true });
    reply.setCookie('b', 'x y', { path: '/', maxAge: 60 });
    reply.setCookie('a', 'second', { path: '/', httpOnly: true }); // replaces the first
    reply.clearCookie('c', { path: '/' });
    return 'ok';
  });
  await fastify.ready();
  return fastify;
}

describe('cookies', () => {
  it('reads the Cookie header, and gives an empty set without one', async () => {
    const fastify = await server();
    expect((await fastify.inject({ url: '/echo', headers: { cookie: 'a=1; b=two%20words' } })).json()).toEqual({
      a: '1',
      b: 'two words',
    });
    expect((await fastify.inject({ url: '/echo' })).json()).toEqual({});
  });

  it('writes each cookie once, the last value of a name and path winning, and clears with an expiry in the past', async () => {
    const fastify = await server();
    const res = await fastify.inject({ url: '/set' });
    expect(res.headers['set-cookie']).toEqual([
      'a=second; Path=/; HttpOnly; SameSite=Lax',
      'b=x%20y; Max-Age=60; Path=/; SameSite=Lax',
      'c=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax',
    ]);
  });
});
