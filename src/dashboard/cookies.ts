import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseCookie, serialize, type SerializeOptions } from 'cookie';

const kJar = Symbol('keyward.cookieJar');
type WithJar = FastifyReply & { [kJar]: Map<string, string> | null };

/**
 * `request.cookies`, `reply.setCookie` and `reply.clearCookie`, as @fastify/cookie gives them
 * (and @fastify/csrf-protection expects), without its hooks: its onSend hook ran on every
 * response, API calls included, to find no cookie to write. Here a cookie is written into the
 * Set-Cookie header when it is set, and setting the same name, domain and path again in one
 * reply replaces it, as there.
 */
export function registerCookies(fastify: FastifyInstance): void {
  fastify.decorateRequest('cookies', null as never);
  fastify.decorateReply(kJar, null);
  fastify.decorateReply(
    'setCookie',
    function (this: FastifyReply, name: string, value: string, options?: SerializeOptions) {
      // No 'auto' secure, no signing: Keyward's cookies say what they are.
      const opts: SerializeOptions = { sameSite: 'lax', ...options };
      const jar = ((this as WithJar)[kJar] ??= new Map());
      jar.set(`${name};${opts.domain};${opts.path ?? '/'}`, serialize(name, value, opts));
      this.removeHeader('set-cookie');
      this.header('set-cookie', [...jar.values()]);
      return this;
    },
  );
  fastify.decorateReply('clearCookie', function (this: FastifyReply, name: string, options?: SerializeOptions) {
    return this.setCookie(name, '', { path: '/', ...options, expires: new Date(0), maxAge: 0 });
  });
}

/** Fills `request.cookies` from the Cookie header (an API call has none). */
export function readCookies(request: FastifyRequest): void {
  const header = request.headers.cookie; // Node joins repeated ones with '; '
  request.cookies = header ? parseCookie(header) : {};
}

declare module 'fastify' {
  interface FastifyRequest {
    cookies: Record<string, string | undefined>;
  }
  interface FastifyReply {
    setCookie(name: string, value: string, options?: SerializeOptions): FastifyReply;
    clearCookie(name: string, options?: SerializeOptions): FastifyReply;
  }
}
