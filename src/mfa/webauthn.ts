import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

/** The relying party: its ID is the public URL's host, its one accepted origin the public URL's origin. */
export interface RelyingParty {
  id: string;
  name: string;
  origin: string;
}

export function relyingParty(publicUrl: string): RelyingParty {
  const url = new URL(publicUrl);
  return { id: url.hostname, name: 'Keyward', origin: url.origin };
}

export interface StoredCredential {
  credentialId: string;
  publicKey: Buffer;
  signCount: number;
  transports: string[];
}

export interface NewCredential extends StoredCredential {
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
}

/** Why a WebAuthn answer was refused; the caller turns it into a 400 or a failed attempt. */
export class WebAuthnRefusal extends Error {
  override name = 'WebAuthnRefusal';
}

/**
 * Registration asks for a discoverable credential (a passkey, usable without typing an email)
 * and prefers user verification; no attestation: we trust the key, not its maker.
 */
export function registrationOptions(
  rp: RelyingParty,
  person: { id: string; email: string },
  existing: StoredCredential[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: person.email,
    userDisplayName: person.email,
    // The user handle: the person's id, never their email (it is stored on the authenticator).
    userID: new Uint8Array(Buffer.from(person.id, 'utf8')),
    attestationType: 'none',
    excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
  });
}

export async function verifyRegistration(
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  expectedChallenge: string,
): Promise<NewCredential> {
  let result;
  try {
    result = await verifyRegistrationResponse({
      response,
      expectedChallenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: false,
    });
  } catch (error) {
    throw new WebAuthnRefusal((error as Error).message);
  }
  if (!result.verified) throw new WebAuthnRefusal('The passkey could not be verified');
  const { credential, credentialDeviceType, credentialBackedUp } = result.registrationInfo;
  return {
    credentialId: credential.id,
    publicKey: Buffer.from(credential.publicKey),
    signCount: credential.counter,
    transports: (credential.transports ?? []).map(String),
    deviceType: credentialDeviceType,
    backedUp: credentialBackedUp,
  };
}

/**
 * Options for signing in: with `allow` (the person is known, a second factor) or without
 * (a passkey as the first factor: the browser offers the discoverable credentials it holds).
 */
export function authenticationOptions(
  rp: RelyingParty,
  allow: StoredCredential[] | null,
  userVerification: 'required' | 'preferred',
  /** An issued challenge (base64url), to show the same options again. */
  challenge?: string,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.id,
    ...(challenge ? { challenge: new Uint8Array(Buffer.from(challenge, 'base64url')) } : {}),
    allowCredentials: allow?.map((c) => ({ id: c.credentialId, transports: c.transports })),
    userVerification,
  });
}

/**
 * Checks an assertion against the stored credential. The library refuses a signature counter
 * that did not grow (when either side is non-zero): a sign that the key was cloned.
 * `requireUserVerification` is set for a passwordless sign-in, where the passkey alone must
 * prove two factors (the device and its PIN or biometric).
 */
export async function verifyAuthentication(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  expectedChallenge: string,
  stored: StoredCredential,
  requireUserVerification: boolean,
): Promise<{ newSignCount: number; userVerified: boolean }> {
  let result;
  try {
    result = await verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: stored.credentialId,
        publicKey: new Uint8Array(stored.publicKey),
        counter: stored.signCount,
        transports: stored.transports as never,
      },
      requireUserVerification,
    });
  } catch (error) {
    throw new WebAuthnRefusal((error as Error).message);
  }
  if (!result.verified) throw new WebAuthnRefusal('The passkey could not be verified');
  return { newSignCount: result.authenticationInfo.newCounter, userVerified: result.authenticationInfo.userVerified };
}

/** The shape a browser's credential JSON must have before the library looks at it. */
export function looksLikeCredential(
  value: unknown,
): value is { id: string; rawId: string; type: string; response: object } {
  const v = value as Record<string, unknown> | null;
  return (
    !!v &&
    typeof v === 'object' &&
    typeof v.id === 'string' &&
    v.id.length > 0 &&
    v.id.length <= 1024 &&
    typeof v.rawId === 'string' &&
    v.type === 'public-key' &&
    !!v.response &&
    typeof v.response === 'object'
  );
}
