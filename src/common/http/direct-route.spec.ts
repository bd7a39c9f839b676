import 'reflect-metadata';
import { ArgumentsHost, Controller, Get, HttpCode, HttpStatus, Post, Req, Res, UseGuards } from '@nestjs/common';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { Reflector } from '@nestjs/core';
import Fastify, { FastifyReply, FastifyRequest } from 'fastify';
import { AccessRule, Authenticated, Public } from '../auth/access.decorators';
import { AppException } from './problem';
import { Direct, registerDirectRoutes } from './direct-route';

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
  @HttpCode(HttpStatus.OK)
  @Direct()
  made(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    reply.header('x-made', 'yes');
    return Promise.resolve({ principal: request.principal });
  }

  @Get('broken')
  @Public()
  @Direct()
  broken(): never {
    throw new AppException(HttpStatus.CONFLICT, 'PROBE_BROKEN', 'broken');
  }
}

/** Routes declared the way Nest's Fastify adapter declares them: the @RouteConfig value as `config`. */
function routeOf(controller: object, method: string) {
  const handler = (controller as Record<string, object>)[method];
  return { config: Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as Record<string, unknown> };
}

function appWith(admit: (rule: AccessRule) => unknown) {
  const fastify = Fastify();
  const caught: unknown[] = [];
  registerDirectRoutes(fastify, {
    resolve: () => new ProbeController() as never,
    access: { admitDirect: (rule, request) => ((request.principal = { rule } as never), admit(rule)) },
    filter: {
      catch(error: unknown, host: ArgumentsHost) {
        caught.push(error);
        host
          .switchToHttp()
          .getResponse<FastifyReply>()
          .status((error as AppException).getStatus?.() ?? 500)
          .send({ code: (error as AppException).code });
      },
    },
    reflector: new Reflector(),
  });
  const nestHandler = () => ({ through: 'nest' });
  for (const [method, url, name] of [
    ['GET', '/open', 'open'],
    ['POST', '/made', 'made'],
    ['GET', '/broken', 'broken'],
  ] as const)
    fastify.route({ method, url, ...routeOf(ProbeController.prototype, name), handler: nestHandler });
  return { fastify, caught };
}

describe('direct routes', () => {
  it('answers what the handler returns, after the access check, with the status of @HttpCode', async () => {
    const { fastify } = appWith(() => true);
    const open = await fastify.inject({ method: 'GET', url: '/open' });
    expect(open.statusCode).toBe(200);
    expect(open.json()).toEqual({ url: '/open' });
    const made = await fastify.inject({ method: 'POST', url: '/made', payload: {} });
    expect(made.statusCode).toBe(200);
    expect(made.headers['x-made']).toBe('yes');
    expect(made.json()).toEqual({ principal: { rule: { type: 'authenticated', via: ['apiKey'], scopes: ['probe'] } } });
  });

  it('hands a refusal of the access check, now or later, and a thrown error to the exception filter', async () => {
    const refused = new AppException(HttpStatus.UNAUTHORIZED, 'KEY_MISSING', 'no key');
    const now = appWith(() => {
      throw refused;
    });
    const later = appWith(() => Promise.reject(refused));
    for (const { fastify, caught } of [now, later]) {
      const res = await fastify.inject({ method: 'POST', url: '/made', payload: {} });
      expect([res.statusCode, res.json()]).toEqual([401, { code: 'KEY_MISSING' }]);
      expect(caught).toEqual([refused]);
    }
    const open = appWith(() => true);
    const res = await open.fastify.inject({ method: 'GET', url: '/broken' });
    expect([res.statusCode, res.json()]).toEqual([409, { code: 'PROBE_BROKEN' }]);
    expect(open.caught).toHaveLength(1);
  });

  it('is refused when the app starts for a route that needs what only Nest’s router gives', () => {
    const Guard = class {
      canActivate() {
        return true;
      }
    };
    @Controller()
    class Wrong {
      @Get('no-rule')
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
    const register = (name: string) => {
      const { fastify } = appWith(() => true);
      fastify.route({ method: 'GET', url: `/${name}`, ...routeOf(Wrong.prototype, name), handler: () => 'nest' });
    };
    expect(() => register('noRule')).toThrow(
      /Wrong\.noRule .*needs @Public\(\) or @Authenticated\(\), not no access rule/,
    );
    expect(() => register('guarded')).toThrow(/Wrong\.guarded .*__guards__ is not applied to a direct route/);
    expect(() => register('body')).toThrow(
      /Wrong\.body .*takes only @Req\(\) and then @Res\(\{ passthrough: true \}\)/,
    );
  });
});
