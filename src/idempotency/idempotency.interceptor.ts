import {
  applyDecorators,
  CallHandler,
  ExecutionContext,
  HttpStatus,
  Injectable,
  NestInterceptor,
  SetMetadata,
  UseInterceptors,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { from, lastValueFrom, Observable } from 'rxjs';
import { canonicalJson } from '../common/canonical-json';
import { Principal } from '../common/auth/principal';
import { AppException } from '../common/http/problem';
import { IdempotencyService } from './idempotency.service';

const IDEMPOTENT = 'keyward:idempotent';
const HTTP_CODE_METADATA = '__httpCode__';
/** 1–255 printable ASCII characters. */
const VALID_KEY = /^[\x20-\x7e]{1,255}$/;

/**
 * Marks a creating route: an `Idempotency-Key` header makes retries return the first response.
 * The interceptor runs on these routes only.
 */
export const Idempotent = () =>
  applyDecorators(
    SetMetadata(IDEMPOTENT, true),
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Client-chosen key (1–255 printable characters); a retry with the same key and body returns the original response for 24 hours',
    }),
  );

@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly idempotency: IdempotencyService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http' || !this.reflector.get<boolean>(IDEMPOTENT, context.getHandler()))
      return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const header = request.headers['idempotency-key'];
    if (header === undefined) return next.handle();
    if (typeof header !== 'string' || !VALID_KEY.test(header)) {
      throw new AppException(
        HttpStatus.BAD_REQUEST,
        'IDEMPOTENCY_KEY_INVALID',
        'Idempotency-Key must be 1 to 255 printable characters',
      );
    }
    const status =
      this.reflector.get<number>(HTTP_CODE_METADATA, context.getHandler()) ?? (request.method === 'POST' ? 201 : 200);
    return from(this.run(request, context.switchToHttp().getResponse<FastifyReply>(), header, status, next));
  }

  private async run(
    request: FastifyRequest,
    reply: FastifyReply,
    key: string,
    status: number,
    next: CallHandler,
  ): Promise<unknown> {
    const principal = request.principal;
    const scope = credentialScope(principal);
    // Every idempotent route needs a credential; without one there is nobody to replay to.
    if (!scope) return lastValueFrom(next.handle(), { defaultValue: undefined });
    const tenantId = principal?.tenantId ?? null;
    const path = request.url.split('?')[0];
    const fingerprint = createHash('sha256')
      .update(`${request.method} ${path}\n${canonicalJson(request.body ?? null)}`)
      .digest('hex');
    const reservation = await this.idempotency.reserve(tenantId, scope, key, fingerprint);
    if (reservation.replay) {
      reply.header('idempotent-replayed', 'true');
      return reservation.body;
    }
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      void this.idempotency.release(reservation.id); // not awaited: the error answers now
      throw error;
    }
    await this.idempotency.complete(reservation.id, scope, key, status, body);
    return body;
  }
}

/**
 * The exact credential a stored response may be replayed to: one API key, one sign-in
 * (session), or the operator token. Two keys of one owner differ in scopes, allowlist and
 * expiry, so they never share replays; null when the request carries no credential.
 */
export function credentialScope(principal: Principal | null | undefined): string | null {
  if (!principal) return null;
  if (principal.kind === 'admin') return 'operator/admin';
  if (principal.kind === 'apiKey' && principal.apiKeyId) return `${principal.tenantId}/apiKey:${principal.apiKeyId}`;
  if (principal.kind === 'user' && principal.sessionId)
    return `${principal.tenantId}/user:${principal.userId}/session:${principal.sessionId}`;
  return null;
}
