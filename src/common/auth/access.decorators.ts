import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiSecurity } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Principal, Role } from './principal';

export type CredentialKind = 'session' | 'jwt' | 'apiKey';

/** How a route may be reached. Every route declares exactly one. */
export type AccessRule =
  | { type: 'public' }
  | { type: 'adminToken' }
  | { type: 'metricsToken' }
  | { type: 'forwardAuth' }
  | { type: 'authenticated'; via: CredentialKind[]; roles?: Role[]; scopes?: string[] };

export const ACCESS_RULE = 'keyward:access-rule';

/** Reachable by anyone. */
export const Public = () => SetMetadata(ACCESS_RULE, { type: 'public' } satisfies AccessRule);

/** Operator only: the `x-admin-token` header must match ADMIN_TOKEN. */
export const AdminToken = () =>
  applyDecorators(SetMetadata(ACCESS_RULE, { type: 'adminToken' } satisfies AccessRule), ApiSecurity('adminToken'));

/** The metrics scraper: `Authorization: Bearer` must match METRICS_TOKEN. */
export const MetricsToken = () =>
  applyDecorators(SetMetadata(ACCESS_RULE, { type: 'metricsToken' } satisfies AccessRule), ApiBearerAuth());

/**
 * A reverse proxy's forward-auth check: an API key only, admitted by the handler itself through
 * the same identify → authorize → meter steps, because the scopes it requires come with each
 * request (set by the proxy) rather than with the route.
 */
export const ForwardAuth = () =>
  applyDecorators(SetMetadata(ACCESS_RULE, { type: 'forwardAuth' } satisfies AccessRule), ApiSecurity('apiKey'));

/**
 * A signed-in user or an API key. `roles` limits users, `scopes` limits keys; a user's
 * role grants the scopes it implies, so the same rule serves both.
 */
export const Authenticated = (rule: { via: CredentialKind[]; roles?: Role[]; scopes?: string[] }) =>
  applyDecorators(
    SetMetadata(ACCESS_RULE, { type: 'authenticated', ...rule } satisfies AccessRule),
    ...(rule.via.includes('jwt') ? [ApiBearerAuth()] : []),
    ...(rule.via.includes('apiKey') ? [ApiSecurity('apiKey')] : []),
    ...(rule.via.includes('session')
      ? [ApiHeader({ name: 'cookie', required: false, description: 'Dashboard session cookie' })]
      : []),
  );

/** The principal the guard attached to this request. */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<FastifyRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a route without authentication');
  return principal;
});
