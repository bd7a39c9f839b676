import { SoftAuthenticator } from '../../test/helpers/soft-authenticator';
import {
  authenticationOptions,
  registrationOptions,
  relyingParty,
  StoredCredential,
  verifyAuthentication,
  verifyRegistration,
  WebAuthnRefusal,
} from './webauthn';

describe('WebAuthn ceremonies', () => {
  const rp = relyingParty('https://keys.example.com/');
  const person = { id: '6f1c0d1e-0000-4000-8000-000000000001', email: 'ada@example.com' };

  async function registered(authenticator = new SoftAuthenticator(rp.origin)) {
    const options = await registrationOptions(rp, person, []);
    const credential = await verifyRegistration(rp, authenticator.register(options), options.challenge);
    return { authenticator, credential };
  }

  it('takes the relying party from the public URL', () => {
    expect(rp).toEqual({ id: 'keys.example.com', name: 'Keyward', origin: 'https://keys.example.com' });
  });

  it('asks for a discoverable credential with the person id as user handle, excluding ones they have', async () => {
    const existing: StoredCredential = {
      credentialId: 'abc',
      publicKey: Buffer.alloc(0),
      signCount: 0,
      transports: [],
    };
    const options = await registrationOptions(rp, person, [existing]);
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'preferred' });
    expect(Buffer.from(options.user.id, 'base64url').toString()).toBe(person.id);
    expect(options.excludeCredentials?.map((c) => c.id)).toEqual(['abc']);
    expect(options.attestation).toBe('none');
  });

  it('registers a credential and signs in with it, counting up', async () => {
    const { authenticator, credential } = await registered();
    const options = await authenticationOptions(rp, [credential], 'preferred');
    const result = await verifyAuthentication(
      rp,
      authenticator.authenticate(options),
      options.challenge,
      credential,
      false,
    );
    expect(result).toEqual({ newSignCount: 1, userVerified: true });
  });

  it('refuses another challenge, another origin and another relying party', async () => {
    const { authenticator, credential } = await registered();
    const options = await authenticationOptions(rp, [credential], 'preferred');
    const answer = authenticator.authenticate(options);
    await expect(verifyAuthentication(rp, answer, 'another-challenge', credential, false)).rejects.toThrow(
      WebAuthnRefusal,
    );
    const elsewhere = relyingParty('https://evil.example.net');
    await expect(verifyAuthentication(elsewhere, answer, options.challenge, credential, false)).rejects.toThrow(
      WebAuthnRefusal,
    );
    const phished = new SoftAuthenticator('https://keys.example.com.evil.net');
    const reg = await registrationOptions(rp, person, []);
    await expect(verifyRegistration(rp, phished.register(reg), reg.challenge)).rejects.toThrow(WebAuthnRefusal);
  });

  it('refuses a counter that does not grow (a cloned key)', async () => {
    const { authenticator, credential } = await registered();
    const options = await authenticationOptions(rp, [credential], 'preferred');
    const first = await verifyAuthentication(
      rp,
      authenticator.authenticate(options),
      options.challenge,
      credential,
      false,
    );
    const after = { ...credential, signCount: first.newSignCount };
    authenticator.counterStep = 0;
    await expect(
      verifyAuthentication(rp, authenticator.authenticate(options), options.challenge, after, false),
    ).rejects.toThrow(/counter/);
  });

  it('requires user verification when asked to (a passkey as the only factor)', async () => {
    const { authenticator, credential } = await registered();
    authenticator.userVerified = false;
    const options = await authenticationOptions(rp, null, 'required');
    expect(options.allowCredentials ?? []).toEqual([]);
    const answer = authenticator.authenticate(options);
    await expect(verifyAuthentication(rp, answer, options.challenge, credential, true)).rejects.toThrow(
      WebAuthnRefusal,
    );
    const relaxed = await verifyAuthentication(rp, answer, options.challenge, credential, false);
    expect(relaxed.userVerified).toBe(false);
  });
});
