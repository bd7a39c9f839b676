import { Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyVerifier } from '../api-keys/api-key-verifier.service';
import { API_KEY_HEADER, ApiKeyCredential } from '../common/auth/credentials/api-key.credential';
import { Credential } from '../common/auth/credentials/credential';
import { MaybePromise } from '../common/maybe-promise';
import { Principal } from '../common/auth/principal';

const BEARER = /^bearer\s+(\S+)\s*$/i;

/**
 * The API key of a request a proxy asks about: `x-api-key`, else an `Authorization: Bearer`
 * token that has the shape of a key (a JWT or anything else is no credential here: 401
 * KEY_MISSING). Everything after that is ApiKeyCredential's, so a key is identified, refused,
 * counted and metered exactly as on every other key route.
 */
@Injectable()
export class ForwardAuthKeyCredential implements Credential {
  readonly kind = 'apiKey';

  constructor(
    private readonly keys: ApiKeyCredential,
    private readonly verifier: ApiKeyVerifier,
  ) {}

  identify(request: FastifyRequest): MaybePromise<Principal> | null {
    return this.keys.identifyPresented(request, request.headers[API_KEY_HEADER] ?? this.bearerKey(request));
  }

  refused(request: FastifyRequest, code: string): void {
    this.keys.refused(request, code);
  }

  meter(request: FastifyRequest, reply: FastifyReply): MaybePromise<void> {
    return this.keys.meter(request, reply);
  }

  private bearerKey(request: FastifyRequest): string | undefined {
    const header = request.headers.authorization;
    if (header === undefined) return undefined;
    const token = BEARER.exec(header)?.[1];
    return token !== undefined && this.verifier.format.hasShape(token) ? token : undefined;
  }
}
