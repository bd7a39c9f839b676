import { createHash, generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

const b64url = (bytes: Buffer | Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();

interface Held {
  privateKey: KeyObject;
  counter: number;
  userHandle: string;
  rpId: string;
}

/**
 * A WebAuthn authenticator in software (ES256, "none" attestation) for tests that speak the API
 * without a browser: it builds the same authenticator data, client data and signatures a
 * security key would. `userVerified` and `counterStep` let a test play a key without PIN or a
 * cloned key whose counter does not grow.
 */
export class SoftAuthenticator {
  readonly credentials = new Map<string, Held>();
  userVerified = true;
  counterStep = 1;

  constructor(readonly origin: string) {}

  register(options: PublicKeyCredentialCreationOptionsJSON): RegistrationResponseJSON {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const credentialId = randomBytes(16);
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
        [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
      ]),
    );
    const rpId = options.rp.id!;
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credentialId.length);
    const authData = Buffer.concat([
      this.header(rpId, 0x40, 0),
      Buffer.alloc(16), // AAGUID
      idLength,
      credentialId,
      Buffer.from(cose),
    ]);
    const clientData = Buffer.from(
      JSON.stringify({
        type: 'webauthn.create',
        challenge: options.challenge,
        origin: this.origin,
        crossOrigin: false,
      }),
    );
    const attestation = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', new Uint8Array(authData)],
      ]) as never,
    );
    this.credentials.set(b64url(credentialId), { privateKey, counter: 0, userHandle: options.user.id, rpId });
    return {
      id: b64url(credentialId),
      rawId: b64url(credentialId),
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientData),
        attestationObject: b64url(attestation),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** Signs the challenge with the allowed credential, or (passwordless) the first one held. */
  authenticate(options: PublicKeyCredentialRequestOptionsJSON, credentialId?: string): AuthenticationResponseJSON {
    const id =
      credentialId ??
      options.allowCredentials?.find((c) => this.credentials.has(c.id))?.id ??
      [...this.credentials.keys()][0];
    const held = this.credentials.get(id);
    if (!held) throw new Error('no credential for these options');
    held.counter += this.counterStep;
    const authData = this.header(options.rpId ?? held.rpId, 0, held.counter);
    const clientData = Buffer.from(
      JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: this.origin, crossOrigin: false }),
    );
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), held.privateKey);
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: held.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** rpIdHash, flags (user present, user verified when set, plus `extra`), sign counter. */
  private header(rpId: string, extra: number, counter: number): Buffer {
    const counterBytes = Buffer.alloc(4);
    counterBytes.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([0x01 | (this.userVerified ? 0x04 : 0) | extra]), counterBytes]);
  }
}
