import 'reflect-metadata';
import { ArgumentsHost, Controller, Get, HttpCode, HttpStatus, Post, Req, Res, UseGuards } from '@nestjs/common';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { Reflector } from '@nestjs/core';
import Fastify, { FastifyReply, FastifyRequest } from 'fastify';
import { AccessRule, Authenticated, Public } from '../auth/access.decorators';
import { MaybePromise } from '../maybe-promise';
import { AppException } from './problem';
import { Direct, DirectRouteDeps, registerDirectRoutes } from './direct-route';

@Controller()
class ProbeController {
  @Get('open')
  @Public()
  @Direct()
  open(@Req() request: FastifyRequest) {
    return { url: request.url };
  }

  @Post('made')
  @Authenticated({ via: ['apiKey'], scopes: ['probe'] })
  @HttpCode(HttpStatus.ACCEPTED)
  @Direct()
  made(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    reply.header('x-made', 'yes');
    return Promise.resolve({ principal: request.principal });
  }

  @Post('created')
  @Public()
  @Direct()
  created() {
    return { created: true };
  }

  @Get('broken')
  @Public()
  @Direct()
  broken(): never {
    throw new AppException(HttpStatus.CONFLICT, 'PROBE_BROKEN', 'broken');
  }

  @Get('later')
  @Public()
  @Direct()
  later() {
    return Promise.reject(new AppException(HttpStatus.GONE, 'PROBE_LATER', 'later'));
  }
}

/** A route declared the way Nest's Fastify adapter declares it: the @RouteConfig value as `config`. */
function routeOf(prototype: object, method: string) {
  const handler = (prototype as Record<string, object>)[method];
  return { config: Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as Record<string, unknown> };
}

const nestHandler = () => ({ through: 'nest' });

function appWith(admit: (rule: AccessRule) => MaybePromise<boolean>, overrides: Partial<DirectRouteDeps> = {}) {
  const fastify = Fastify();
  const caught: unknown[] = [];
  const access: DirectRouteDeps['access'] = {
    admitDirect: (rule, request) => ((request.principal = { rule } as never), admit(rule)),
  };
  const filter: DirectRouteDeps['filter'] = {
    catch(error: unknown, host: ArgumentsHost) {
      caught.push(error);
      const reply = host.switchToHttp().getResponse<FastifyReply>();
      reply.status((error as AppException).getStatus()).send({ code: (error as AppException).code });
    },
  };
  registerDirectRoutes(fastify, {
    resolve: () => new ProbeController() as never,
    access,
    filter,
    reflector: new Reflector(),
    globals: () => ({ guards: [access], interceptors: [], filters: [filter] }),
    ...overrides,
  });
  const route = (method: 'GET' | 'POST', name: string, prototype: object = ProbeController.prototype) =>
    fastify.route({ method, url: `/${name}`, ...routeOf(prototype, name), handler: nestHandler });
  return { fastify, caught, route };
}

function probeApp(admit: (rule: AccessRule) => MaybePromise<boolean>) {
  const app = appWith(admit);
  for (const name of ['open', 'broken', 'later']) app.route('GET', name);
  for (const name of ['made', 'created']) app.route('POST', name);
  return app;
}

describe('direct routes', () => {
  it('answer what the handler returns, after the access check, with the status of @HttpCode or 201 for a POST', async () => {
    const { fastify } = probeApp(() => true);
    const open = await fastify.inject({ method: 'GET', url: '/open' });
    expect([open.statusCode, open.json()]).toEqual([200, { url: '/open' }]);
    const head = await fastify.inject({ method: 'HEAD', url: '/open' });
    expect([head.statusCode, head.body]).toEqual([200, '']);
    const made = await fastify.inject({ method: 'POST', url: '/made', payload: {} });
    expect(made.statusCode).toBe(202);
    expect(made.headers['x-made']).toBe('yes');
    expect(made.json()).toEqual({ principal: { rule: { type: 'authenticated', via: ['apiKey'], scopes: ['probe'] } } });
    const created = await fastify.inject({ method: 'POST', url: '/created', payload: {} });
    expect([created.statusCode, created.json()]).toEqual([201, { created: true }]);
  });

  it('hand a refusal of the access check, now or later, and what the handler throws or rejects with to the exception filter', async () => {
    const refused = new AppException(HttpStatus.UNAUTHORIZED, 'KEY_MISSING', 'no key');
    const now = probeApp((rule) => {
      if (rule.type === 'public') return true;
      throw refused;
    });
    const later = probeApp((rule) => (rule.type === 'public' ? true : Promise.reject(refused)));
    for (const { fastify, caught } of [now, later]) {
      const res = await fastify.inject({ method: 'POST', url: '/made', payload: {} });
      expect([res.statusCode, res.json()]).toEqual([401, { code: 'KEY_MISSING' }]);
      expect(caught).toEqual([refused]);
    }
    const thrown = await now.fastify.inject({ method: 'GET', url: '/broken' });
    expect([thrown.statusCode, thrown.json()]).toEqual([409, { code: 'PROBE_BROKEN' }]);
    const rejected = await now.fastify.inject({ method: 'GET', url: '/later' });
    expect([rejected.statusCode, rejected.json()]).toEqual([410, { code: 'PROBE_LATER' }]);
  });

  it('refuse a request the access check does not answer true for (403), never run the handler', async () => {
    const { fastify, caught } = probeApp(() => false);
    const res = await fastify.inject({ method: 'GET', url: '/open' });
    expect([res.statusCode, res.json()]).toEqual([403, { code: 'FORBIDDEN' }]);
    expect(caught).toHaveLength(1);
  });

  it('answer 500 through Fastify, without taking the process down, when the filter itself fails on a later error', async () => {
    const access = { admitDirect: () => Promise.resolve(true) };
    const failing = {
      catch() {
        throw new Error('the filter failed');
      },
    };
    const other = Fastify();
    registerDirectRoutes(other, {
      resolve: () => new ProbeController() as never,
      access,
      filter: failing,
      reflector: new Reflector(),
      globals: () => ({ guards: [access], interceptors: [], filters: [failing] }),
    });
    other.route({ method: 'GET', url: '/later', ...routeOf(ProbeController.prototype, 'later'), handler: nestHandler });
    const res = await other.inject({ method: 'GET', url: '/later' });
    expect(res.statusCode).toBe(500);
  });

  it('are refused when the app starts for a route that needs what only Nest’s router gives', () => {
    const Guard = class {
      canActivate() {
        return true;
      }
    };
    @Controller()
    class Wrong {
      @Get('noRule')
      @Direct()
      noRule(@Req() request: FastifyRequest) {
        return request.url;
      }

      @Get('guarded')
      @Public()
      @UseGuards(Guard)
      @Direct()
      guarded(@Req() request: FastifyRequest) {
        return request.url;
      }

      @Get('body')
      @Public()
      @Direct()
      body(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
        return reply.send(request.url);
      }
    }
    @Controller()
    @UseGuards(Guard)
    class GuardedClass {
      @Get('open')
      @Public()
      @Direct()
      open() {
        return 'open';
      }
    }
    const register = (prototype: object, name: string, deps: Partial<DirectRouteDeps> = {}) =>
      appWith(() => true, deps).route('GET', name, prototype);
    expect(() => register(Wrong.prototype, 'noRule')).toThrow(
      /Wrong\.noRule .*needs @Public\(\) or @Authenticated\(\), not no access rule/,
    );
    expect(() => register(Wrong.prototype, 'guarded')).toThrow(/Wrong\.guarded .*__guards__ is not applied/);
    expect(() => register(GuardedClass.prototype, 'open')).toThrow(/GuardedClass\.open .*__guards__ is not applied/);
    expect(() => register(Wrong.prototype, 'body')).toThrow(
      /Wrong\.body .*takes only @Req\(\) and then @Res\(\{ passthrough: true \}\)/,
    );
    const anotherGuard = { globals: () => ({ guards: [new Guard()], interceptors: [], filters: [] }) };
    expect(() => register(ProbeController.prototype, 'open', anotherGuard)).toThrow(
      /global guards, interceptors or filters/,
    );
    const withParam = appWith(() => true);
    expect(() =>
      withParam.fastify.route({
        method: 'GET',
        url: '/open/:id',
        ...routeOf(ProbeController.prototype, 'open'),
        handler: nestHandler,
      }),
    ).toThrow(/takes no path parameters/);
  });
});
