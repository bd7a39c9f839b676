import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MaybePromise } from '../../maybe-promise';
import { admit, AuthenticatedRule } from '../access.guard';
import { ApiKeyCredential } from './api-key.credential';
import { Credential } from './credential';
import { JwtCredential } from './jwt.credential';

/** One credential as a guard of its own, for `@UseGuards` on a route that needs exactly it. */
abstract class SingleCredentialGuard implements CanActivate {
  private readonly rule: AuthenticatedRule;

  constructor(private readonly credential: Credential) {
    this.rule = { type: 'authenticated', via: [credential.kind] };
  }

  canActivate(context: ExecutionContext): MaybePromise<boolean> {
    const http = context.switchToHttp();
    return admit([this.credential], this.rule, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
  }
}

/** `x-api-key` alone, metered as on every other key-authenticated route. */
@Injectable()
export class ApiKeyGuard extends SingleCredentialGuard {
  constructor(credential: ApiKeyCredential) {
    super(credential);
  }
}

/** `Authorization: Bearer <access JWT>` alone. */
@Injectable()
export class JwtAuthGuard extends SingleCredentialGuard {
  constructor(credential: JwtCredential) {
    super(credential);
  }
}
