import { ExecutionContext, Injectable } from '@nestjs/common';
import { CredentialKind } from './access.decorators';
import { Principal } from './principal';

/**
 * Reads one kind of credential from a request. Returns null when the request does not carry
 * that credential at all; throws 401 when it carries one that is not valid. May answer
 * synchronously (a cached API key) so the hot path needs no promise.
 */
export type Authenticator = (context: ExecutionContext) => Principal | null | Promise<Principal | null>;

/** Where credential modules register themselves, so the global guard knows every credential. */
@Injectable()
export class Authenticators {
  private readonly byKind = new Map<CredentialKind, Authenticator>();

  register(kind: CredentialKind, authenticator: Authenticator): void {
    this.byKind.set(kind, authenticator);
  }

  get(kind: CredentialKind): Authenticator | undefined {
    return this.byKind.get(kind);
  }
}
