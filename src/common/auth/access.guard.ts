import { CanActivate, ExecutionContext, HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppException } from '../http/problem';
import { MaybePromise, then } from '../maybe-promise';
import { ACCESS_RULE, AccessRule } from './access.decorators';
import { AdminTokenGuard } from './admin-token.guard';
import { ApiKeyCredential } from './credentials/api-key.credential';
import { Credential, CREDENTIALS } from './credentials/credential';
import { JwtCredential } from './credentials/jwt.credential';
import { SessionCredential } from './credentials/session.credential';
import { MetricsTokenGuard } from './metrics-token.guard';
import { missingPermissions, satisfies } from '../../permissions/permission-query';
import { Principal } from './principal';
import { OperatorCredential } from '../../operators/operator.credential';

export type AuthenticatedRule = Extract<AccessRule, { type: 'authenticated' }>;

/**
 * Every way into the API, in the order the guard tries them (a route allows a subset with
 * `@Authenticated({ via })`): `x-api-key`, then `Authorization: Bearer <JWT>`, then the
 * dashboard session cookie with its CSRF token. Besides these, `@AdminToken()` routes take the
 * operator's `x-admin-token`, `@Operator()` (the console) an operator's session cookie, and
 * `@MetricsToken()` the scraper's bearer token.
 */
export const CREDENTIAL_ORDER = [ApiKeyCredential, JwtCredential, SessionCredential] as const;

/**
 * The global guard. Closed by default: a route that declares no access rule is refused, so
 * forgetting a decorator can never expose a route. For `@Authenticated` routes it identifies
 * the caller, then authorizes (roles, scopes), and only then meters (rate limit, quota, usage):
 * a request spends nothing unless it is allowed, and a refusal is counted once.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly logger = new Logger(AccessGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly adminTokenGuard: AdminTokenGuard,
    private readonly metricsTokenGuard: MetricsTokenGuard,
    private readonly operatorCredential: OperatorCredential,
    @Inject(CREDENTIALS) private readonly credentials: readonly Credential[],
  ) {}

  /** Each handler's rule, read from its metadata once (decorators do not change at run time). */
  private readonly rules = new WeakMap<object, AccessRule | undefined>();

  private ruleOf(context: ExecutionContext): AccessRule | undefined {
    const handler = context.getHandler();
    if (this.rules.has(handler)) return this.rules.get(handler);
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [handler, context.getClass()]);
    this.rules.set(handler, rule);
    return rule;
  }

  canActivate(context: ExecutionContext): MaybePromise<boolean> {
    const rule = this.ruleOf(context);
    switch (rule?.type) {
      case 'public':
      case 'forwardAuth': // the handler admits the key (ForwardAuthController)
        return true;
      case 'adminToken':
        return this.adminTokenGuard.canActivate(context);
      case 'metricsToken':
        return this.metricsTokenGuard.canActivate(context);
      case 'operator':
        return this.operatorCredential.admit(context.switchToHttp().getRequest<FastifyRequest>());
      case 'authenticated': {
        const http = context.switchToHttp();
        return admit(this.credentials, rule, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
      }
      default:
        this.logger.error(
          `route ${context.getClass().name}.${context.getHandler().name} declares no access rule; refused`,
        );
        throw new AppException(HttpStatus.FORBIDDEN, 'ACCESS_RULE_MISSING', 'This route is not reachable');
    }
  }

  /**
   * The check of a route Fastify calls directly (common/http/direct-route.ts), on the request
   * alone: the same as canActivate for the two rules such a route may have.
   */
  admitDirect(rule: AccessRule, request: FastifyRequest, reply: FastifyReply): MaybePromise<boolean> {
    if (rule.type === 'public') return true;
    if (rule.type === 'authenticated') return admit(this.credentials, rule, request, reply);
    throw new AppException(HttpStatus.FORBIDDEN, 'ACCESS_RULE_MISSING', 'This route is not reachable');
  }
}

/**
 * Identifies with the first allowed credential the request carries, authorizes, then meters;
 * throws when the request carries no allowed credential, a bad one, or one the rule refuses.
 */
export function admit(
  credentials: readonly Credential[],
  rule: AuthenticatedRule,
  request: FastifyRequest,
  reply: FastifyReply,
  from = 0,
): MaybePromise<true> {
  for (let i = from; i < credentials.length; i++) {
    const credential = credentials[i];
    if (!rule.via.includes(credential.kind)) continue;
    const found = credential.identify(request);
    if (found === null) continue;
    return then(found, (principal) => {
      if (!principal) return admit(credentials, rule, request, reply, i + 1);
      request.principal = principal;
      const refusal = authorize(rule, principal);
      if (refusal) {
        credential.refused?.(request, refusal.code);
        throw refusal;
      }
      return then(credential.meter?.(request, reply), () => true as const);
    });
  }
  if (rule.via.length === 1 && rule.via[0] === 'apiKey')
    throw new AppException(HttpStatus.UNAUTHORIZED, 'KEY_MISSING', 'An x-api-key header is required');
  throw new AppException(
    HttpStatus.UNAUTHORIZED,
    'UNAUTHENTICATED',
    `Authentication required (${rule.via.join(', ')})`,
  );
}

const NO_PERMISSIONS: ReadonlySet<string> = new Set();

/** Why the rule refuses this principal, or undefined when it admits it. A user's role grants the scopes it implies. */
export function authorize(rule: AuthenticatedRule, principal: Principal): AppException | undefined {
  if (principal.mfaEnrolmentRequired && !rule.duringEnrolment) {
    return new AppException(
      HttpStatus.FORBIDDEN,
      'MFA_ENROLMENT_REQUIRED',
      'Your tenant requires a second factor: add an authenticator app or a passkey first (/auth/mfa)',
    );
  }
  if (principal.kind === 'user' && rule.roles && !rule.roles.includes(principal.role!)) {
    return new AppException(HttpStatus.FORBIDDEN, 'FORBIDDEN', 'Your role does not allow this');
  }
  const missing = rule.scopes?.filter((scope) => !principal.scopes.includes(scope));
  if (missing?.length) {
    return new AppException(HttpStatus.FORBIDDEN, 'INSUFFICIENT_SCOPE', `Missing scope: ${missing.join(' ')}`, {
      requiredScopes: rule.scopes,
    });
  }
  if (rule.permissions) {
    const held = principal.permissions ?? NO_PERMISSIONS;
    if (!satisfies(rule.permissions, held)) {
      const missingNames = missingPermissions(rule.permissions, held);
      return new AppException(
        HttpStatus.FORBIDDEN,
        'INSUFFICIENT_PERMISSIONS',
        `Missing permissions: ${missingNames.join(' ')}`,
        { missingPermissions: missingNames },
      );
    }
  }
  return undefined;
}
