import { CanActivate, ExecutionContext, HttpException, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { KeywardClient } from './client';
import { API_KEY_HEADER, decide, KeywardRequirement } from './guard-core';

export const KEYWARD_REQUIREMENT = 'keyward:requirement';

/** What a handler or controller requires of the key (the handler's requirement wins). */
export const Keyward = (requirement: KeywardRequirement) => SetMetadata(KEYWARD_REQUIREMENT, requirement);

/** The key must hold every one of these scopes. */
export const RequireScopes = (...scopes: string[]) => Keyward({ scopes });

interface HttpRequest {
  headers: Record<string, string | string[] | undefined>;
  keyward?: unknown;
}

/**
 * Lets a request through only with a valid `x-api-key`; the verified key is set on
 * `request.keyward`. Refusals answer 401/403/429 with the service's code, and 503 when the
 * key could not be verified. Provide the client as `{ provide: KeywardClient, useValue: … }`.
 */
@Injectable()
export class KeywardGuard implements CanActivate {
  constructor(
    @Inject(KeywardClient) private readonly client: KeywardClient,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const requirement = this.reflector.getAllAndOverride<KeywardRequirement | undefined>(KEYWARD_REQUIREMENT, [
      context.getHandler(),
      context.getClass(),
    ]);
    const request = context.switchToHttp().getRequest<HttpRequest>();
    const decision = await decide(this.client, request.headers[API_KEY_HEADER], requirement);
    if (decision.allowed) {
      request.keyward = decision.key;
      return true;
    }
    if (decision.retryAfterSeconds) {
      context.switchToHttp().getResponse().header?.('retry-after', String(decision.retryAfterSeconds));
    }
    throw new HttpException(decision.body, decision.status);
  }
}
