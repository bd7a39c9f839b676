import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SecretBox } from '../common/crypto/secret-box';
import { CookieNames } from './web';

/** How long after creating or rotating a key its secret can still be shown (once). */
export const REVEAL_TTL_SECONDS = 300;

interface Reveal {
  keyId: string;
  apiKey: string;
  /** Unix ms after which the reveal is void. */
  until: number;
}

/**
 * The secret of a key just created or rotated, carried from the POST to the one GET that shows
 * it (post/redirect/get). It travels in a cookie sealed with AES-256-GCM under a key of its own
 * (derived from CONFIG_ENCRYPTION_KEY), bound through the associated data to this browser's
 * session and to the key's id, and it expires after five minutes. Nothing is kept on the
 * server, so any instance behind a load balancer can show it; the page that shows it clears
 * the cookie, so a reload (or a second tab) finds nothing and cannot show the secret again.
 */
export class KeyReveals {
  private readonly box: SecretBox;

  constructor(
    encryptionKey: Buffer,
    private readonly names: CookieNames,
  ) {
    this.box = new SecretBox(createHmac('sha256', encryptionKey).update('keyward key reveal').digest());
  }

  private get cookie(): string {
    return this.names.secure ? '__Host-kw_reveal' : 'kw_reveal';
  }

  private options(maxAge?: number) {
    return { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: this.names.secure, maxAge };
  }

  /** Bound to the session cookie (as the CSRF token is): another session cannot open it. */
  private context(request: FastifyRequest, keyId: string): string {
    return `${request.server.csrfBinding(request)}:${keyId}`;
  }

  /** Seals the secret into the reply; the page at `/dashboard/keys/:id/secret` shows it. */
  hold(request: FastifyRequest, reply: FastifyReply, keyId: string, apiKey: string, now: Date): void {
    const reveal: Reveal = { keyId, apiKey, until: now.getTime() + REVEAL_TTL_SECONDS * 1000 };
    // Random padding: the cookie's length says nothing about which key it holds.
    const sealed = this.box.seal(
      JSON.stringify({ ...reveal, pad: randomBytes(8).toString('hex') }),
      this.context(request, keyId),
    );
    reply.setCookie(this.cookie, sealed, this.options(REVEAL_TTL_SECONDS));
  }

  /** The secret for this key, once: the cookie is cleared whatever it held. */
  take(request: FastifyRequest, reply: FastifyReply, keyId: string, now: Date): string | null {
    const sealed = request.cookies?.[this.cookie];
    if (!sealed) return null;
    reply.clearCookie(this.cookie, this.options());
    try {
      const reveal = JSON.parse(this.box.open(sealed, this.context(request, keyId))) as Reveal;
      return reveal.keyId === keyId && reveal.until > now.getTime() ? reveal.apiKey : null;
    } catch {
      // Another session's, another key's, tampered with or from an older format: nothing to show.
      return null;
    }
  }
}
