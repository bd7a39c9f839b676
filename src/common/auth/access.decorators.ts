import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiSecurity, DECORATORS } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiProblems } from '../http/problem.dto';
import type { PermissionQuery } from '../../permissions/permission-query';
import { Principal, Role } from './principal';

export type CredentialKind = 'session' | 'jwt' | 'apiKey';

/** How a route may be reached. Every route declares exactly one. */
export type AccessRule =
  | { type: 'public' }
  | { type: 'adminToken' }
  | { type: 'metricsToken' }
  | { type: 'forwardAuth' }
  | { type: 'operator' }
  | {
      type: 'authenticated';
      via: CredentialKind[];
      roles?: Role[];
      scopes?: string[];
      /** Tenant permissions an API key must hold; only forward-auth builds such a rule, per request. */
      permissions?: PermissionQuery;
      /** Reachable by a session that must first add a second factor (the tenant requires one). */
      duringEnrolment?: boolean;
    };

export const ACCESS_RULE = 'keyward:access-rule';

/** Names of the security schemes app.factory.ts declares in the OpenAPI document. */
export const SECURITY_SCHEMES = { apiKey: 'apiKey', jwt: 'bearer', session: 'session', adminToken: 'adminToken' };

/**
 * `security: []` on the operation: it needs no credential. @nestjs/swagger drops an empty
 * ApiSecurity list, so the requirement goes in with the operation's own fields, merged with
 * whatever @ApiOperation sets (in either decorator order). On a class it marks every handler
 * that does not declare credentials of its own.
 */
const NoSecurity = () => (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
  const handlers = descriptor
    ? [descriptor.value as object]
    : Object.getOwnPropertyNames((target as { prototype: object }).prototype)
        .filter((name) => name !== 'constructor')
        .map((name) => (target as { prototype: Record<string, object> }).prototype[name]);
  for (const handler of handlers.filter((value) => typeof value === 'function')) {
    if (!descriptor && Reflect.getMetadata(DECORATORS.API_SECURITY, handler)) continue;
    const operation = Reflect.getMetadata(DECORATORS.API_OPERATION, handler) as object | undefined;
    Reflect.defineMetadata(DECORATORS.API_OPERATION, { ...operation, security: [] }, handler);
  }
};

/** Reachable by anyone. */
export const Public = () =>
  applyDecorators(SetMetadata(ACCESS_RULE, { type: 'public' } satisfies AccessRule), NoSecurity());

/** Operator only: the `x-admin-token` header must match ADMIN_TOKEN (403 while ADMIN_TOKEN is unset). */
export const AdminToken = () =>
  applyDecorators(
    SetMetadata(ACCESS_RULE, { type: 'adminToken' } satisfies AccessRule),
    ApiSecurity(SECURITY_SCHEMES.adminToken),
    ApiProblems(401, 403),
  );

/**
 * The operator console: a signed-in operator's session (the dashboard cookie, with CSRF on
 * changes). Tenant members, API keys, JWTs and the admin token are all refused.
 */
export const Operator = () =>
  applyDecorators(
    SetMetadata(ACCESS_RULE, { type: 'operator' } satisfies AccessRule),
    ApiCookieAuth(SECURITY_SCHEMES.session),
    ApiProblems(401, 403),
  );

/** The metrics scraper: `Authorization: Bearer` must match METRICS_TOKEN. */
export const MetricsToken = () =>
  applyDecorators(
    SetMetadata(ACCESS_RULE, { type: 'metricsToken' } satisfies AccessRule),
    ApiBearerAuth(SECURITY_SCHEMES.jwt),
    ApiProblems(401, 403),
  );

/**
 * A reverse proxy's forward-auth check: an API key only, admitted by the handler itself through
 * the same identify → authorize → meter steps, because the scopes it requires come with each
 * request (set by the proxy) rather than with the route.
 */
export const ForwardAuth = () =>
  applyDecorators(
    SetMetadata(ACCESS_RULE, { type: 'forwardAuth' } satisfies AccessRule),
    ApiSecurity('apiKey'),
    ApiProblems(400, 401, 403, 429),
  );

/**
 * A signed-in user or an API key. `roles` limits users, `scopes` limits keys; a user's
 * role grants the scopes it implies, so the same rule serves both. In the OpenAPI document
 * each credential is one alternative security requirement; every such route can answer 401
 * and 403, and where keys are accepted, 400 (a key in the URL) and 429 (rate limit, quota).
 */
export const Authenticated = (rule: {
  via: CredentialKind[];
  roles?: Role[];
  scopes?: string[];
  duringEnrolment?: boolean;
}) =>
  applyDecorators(
    SetMetadata(ACCESS_RULE, { type: 'authenticated', ...rule } satisfies AccessRule),
    ...(rule.via.includes('jwt') ? [ApiBearerAuth(SECURITY_SCHEMES.jwt)] : []),
    ...(rule.via.includes('apiKey') ? [ApiSecurity(SECURITY_SCHEMES.apiKey)] : []),
    ...(rule.via.includes('session') ? [ApiCookieAuth(SECURITY_SCHEMES.session)] : []),
    ApiProblems(...(rule.via.includes('apiKey') ? [400, 401, 403, 429] : [401, 403])),
  );

/** The principal the guard attached to this request. */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<FastifyRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a route without authentication');
  return principal;
});
