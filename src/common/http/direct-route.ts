import { ExceptionFilter, HttpStatus, Type } from '@nestjs/common';
import {
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  HEADERS_METADATA,
  HOST_METADATA,
  HTTP_CODE_METADATA,
  INTERCEPTORS_METADATA,
  PIPES_METADATA,
  REDIRECT_METADATA,
  RENDER_METADATA,
  RESPONSE_PASSTHROUGH_METADATA,
  ROUTE_ARGS_METADATA,
  SSE_METADATA,
  VERSION_METADATA,
} from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { RouteConfig } from '@nestjs/platform-fastify';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { ACCESS_RULE, AccessRule } from '../auth/access.decorators';
import { MaybePromise, then } from '../maybe-promise';
import { AppException } from './problem';

const DIRECT = 'keywardDirect';

interface DirectTarget {
  controller: Type;
  method: string;
}

/**
 * A route Fastify calls straight, without Nest's per-request router layer (guard consumer,
 * execution context, pipes, interceptors, response controller): on the hottest routes that layer
 * cost more than the route's own work (CPU per request, A/B: GET /health 19.1 → 14.1 µs, GET /config
 * 25.7 → 21.2 µs, POST /v1/keys/verify 48.4 → 36.4 µs). A direct route still passes the global access check (`AccessGuard.admitDirect`:
 * the same rules, closed by default), leaves through the global exception filter, and keeps every
 * Fastify hook, the request log and metrics. What it cannot have is refused when the app starts:
 * a rule other than @Public or @Authenticated, guards, interceptors, filters or pipes of its own,
 * parameters other than @Req() and @Res({ passthrough: true }), @Header, @Redirect, @Render, @Sse,
 * path parameters, a host or version, and any global guard, interceptor or filter besides the two.
 * What the handler returns is sent as it is (no Observable or StreamableFile handling).
 */
export function Direct(): MethodDecorator {
  return (target, key, descriptor) => {
    // Kept beside any @RouteConfig applied before (below) it; one applied after replaces it.
    const config = Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, descriptor.value as object) as object | undefined;
    const direct: DirectTarget = { controller: target.constructor as Type, method: String(key) };
    return RouteConfig({ ...config, [DIRECT]: direct })(target, key, descriptor);
  };
}

/** Whether Fastify calls this controller method directly (route listings show it). */
export const isDirect = (handler: object): boolean =>
  Boolean(
    (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as Record<string, unknown> | undefined)?.[DIRECT],
  );

/** The access check a direct route runs first: the global guard's, for the request alone. */
export interface DirectAccess {
  admitDirect(rule: AccessRule, request: FastifyRequest, reply: FastifyReply): MaybePromise<boolean>;
}

/** The app's global enhancers when the routes are registered: a direct route skips Nest's, so it must have none but these. */
export interface GlobalEnhancers {
  guards: unknown[];
  interceptors: unknown[];
  filters: unknown[];
}

export interface DirectRouteDeps {
  /** The controller's one instance; throws for a controller that is (or depends on something) request-scoped. */
  resolve<T>(type: Type<T>): T;
  access: DirectAccess;
  filter: ExceptionFilter;
  reflector: Reflector;
  globals(): GlobalEnhancers;
}

/** Swaps Nest's handler for a direct one on every route marked @Direct() (an onRoute hook: add it before app.init). */
export function registerDirectRoutes(fastify: FastifyInstance, deps: DirectRouteDeps): void {
  fastify.addHook('onRoute', (route) => {
    const target = (route.config as Record<string, unknown> | undefined)?.[DIRECT] as DirectTarget | undefined;
    if (target) route.handler = directHandler(route, target, deps);
  });
}

type Handler = (request: FastifyRequest, reply?: FastifyReply) => unknown;

function directHandler(route: RouteOptions, { controller, method }: DirectTarget, deps: DirectRouteDeps) {
  const name = `${controller.name}.${method} (${String(route.method)} ${route.url})`;
  const handler = controller.prototype[method] as Handler;
  const rule = deps.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [handler, controller]);
  refuseWhatDirectCannotDo(name, controller, method, handler, rule);
  refuseOtherGlobals(name, deps);
  // Nest's adapter answers 404 to an empty path parameter; a direct route has none to check.
  if (/[:*]/.test(route.url)) throw new Error(`@Direct() route ${name}: takes no path parameters`);
  const instance = deps.resolve(controller) as Record<string, Handler>;
  const status =
    (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) ?? (route.method === 'POST' ? 201 : 200);
  const fail = (request: FastifyRequest, reply: FastifyReply) => (error: unknown) =>
    deps.filter.catch(error, new ExecutionContextHost([request, reply]));

  // As Nest's router does it: access first, then the status (the handler may change it), the
  // handler, and what it returns is the body. Synchronous for as long as every step is.
  // Returned when it is a promise, so that Fastify's error handler gets what the filter throws.
  return (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const done = then(deps.access.admitDirect(rule!, request, reply), (admitted) => {
        if (admitted !== true) throw new AppException(HttpStatus.FORBIDDEN, 'FORBIDDEN', 'Forbidden resource');
        reply.status(status);
        return then(instance[method](request, reply), (body) => void reply.send(body));
      });
      if (done instanceof Promise) return done.catch(fail(request, reply));
    } catch (error) {
      fail(request, reply)(error);
    }
  };
}

function refuseOtherGlobals(name: string, deps: DirectRouteDeps): void {
  const { guards, interceptors, filters } = deps.globals();
  const only = (list: unknown[], one: unknown) => list.length === 1 && list[0] === one;
  if (!only(guards, deps.access) || interceptors.length || !only(filters, deps.filter))
    throw new Error(
      `@Direct() route ${name}: the app has global guards, interceptors or filters besides the access guard and the problem filter, which a direct route would skip`,
    );
}

const NOT_DIRECT = [
  HOST_METADATA,
  VERSION_METADATA,
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
  EXCEPTION_FILTERS_METADATA,
  PIPES_METADATA,
  HEADERS_METADATA,
  REDIRECT_METADATA,
  RENDER_METADATA,
  SSE_METADATA,
];

function refuseWhatDirectCannotDo(
  name: string,
  controller: Type,
  method: string,
  handler: Handler,
  rule: AccessRule | undefined,
): void {
  const refuse = (why: string) => {
    throw new Error(`@Direct() route ${name}: ${why}`);
  };
  if (rule?.type !== 'public' && rule?.type !== 'authenticated')
    refuse(`needs @Public() or @Authenticated(), not ${rule?.type ?? 'no access rule'}`);
  for (const key of NOT_DIRECT) {
    const own = Reflect.getMetadata(key, handler) as unknown[] | undefined;
    const inherited = Reflect.getMetadata(key, controller) as unknown[] | undefined;
    if ((Array.isArray(own) ? own.length : own) || (Array.isArray(inherited) ? inherited.length : inherited))
      refuse(`${key} is not applied to a direct route`);
  }
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as Record<string, unknown>;
  for (const slot of Object.keys(args)) {
    const [type, index] = slot.split(':').map(Number);
    const allowed =
      (type === RouteParamtypes.REQUEST && index === 0) ||
      (type === RouteParamtypes.RESPONSE &&
        index === 1 &&
        Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, controller, method));
    if (!allowed) refuse('takes only @Req() and then @Res({ passthrough: true })');
  }
}
