import fastifyCsrf from '@fastify/csrf-protection';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import { HttpStatus } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Handlebars from 'handlebars';
import helmet from 'helmet';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AppConfig } from '../config/app-config';
import { requestKind, routeKind } from '../common/http/page-paths';
import { AppException } from '../common/http/problem';
import { randomToken, sha256 } from '../common/crypto/tokens';
import { readCookies, registerCookies } from './cookies';

export interface CookieNames {
  session: string;
  csrf: string;
  secure: boolean;
}

/** Behind https the cookies get `Secure` and the `__Host-` prefix (no Domain, Path=/). */
export function cookieNames(config: AppConfig): CookieNames {
  const secure = config.publicUrl.startsWith('https://');
  return secure
    ? { session: '__Host-kw_session', csrf: '__Host-kw_csrf', secure }
    : { session: 'kw_session', csrf: 'kw_csrf', secure };
}

export const sessionCookieOptions = (names: CookieNames) => ({
  path: '/',
  httpOnly: true,
  sameSite: 'lax' as const,
  secure: names.secure,
});

/** The folder holding views/ and static/, from src/ or from dist/src/. */
function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'views', 'layouts'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('views/ not found');
    dir = parent;
  }
  return dir;
}

const CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    frameAncestors: ["'none'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
  },
};

function handlebars(): typeof Handlebars {
  const hbs = Handlebars.create();
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hbs.registerHelper('gt', (a: unknown, b: unknown) => Number(a) > Number(b));
  hbs.registerHelper('includes', (list: unknown, item: unknown) => Array.isArray(list) && list.includes(item));
  // A <time> element, machine-readable; built from a Date, never from input text.
  hbs.registerHelper('date', (value: unknown) => {
    if (!value) return '—';
    const date = new Date(value as string);
    if (Number.isNaN(date.getTime())) return '—';
    const iso = date.toISOString();
    // Where a column is narrow the time goes under the date, never split further.
    return new hbs.SafeString(
      `<time datetime="${iso}"><span>${iso.slice(0, 10)}</span> <span>${iso.slice(11, 16)} UTC</span></time>`,
    );
  });
  hbs.registerHelper('concat', (...parts: unknown[]) => parts.slice(0, -1).map(String).join(''));
  hbs.registerHelper('json', (value: unknown) => JSON.stringify(value ?? null));
  hbs.registerHelper('join', (list: unknown) => (Array.isArray(list) ? list.join(', ') : ''));
  // <time> elements: the server writes UTC; static/dashboard.js rewrites them in the viewer's
  // time zone. `ago` is for what has happened (created, last used), `relative` for a time either
  // side of now (an expiry): compact ("3 h ago", "in 6 d") with the exact time on hover. `when` is
  // the exact time itself. All give "—" (or the fallback text) for no time. Relative times carry
  // the server's clock (data-now) and are measured against it, not the viewer's: the times are
  // the server's. And what has happened is never shown as ahead ("in a moment"), even when the
  // clock that stamped it ran ahead of the one that shows it (data-past).
  const timeTag = (value: unknown, format: 'past' | 'relative' | 'exact', none: unknown) => {
    const date = value ? new Date(value as string) : null;
    if (!date || Number.isNaN(date.getTime())) return typeof none === 'string' ? hbs.escapeExpression(none) : '—';
    const iso = date.toISOString();
    const utc = `${iso.slice(0, 16).replace('T', ' ')} UTC`;
    if (format === 'exact')
      return new hbs.SafeString(`<time datetime="${iso}" title="${utc}" data-format="exact">${utc}</time>`);
    const now = Date.now();
    const past = format === 'past';
    return new hbs.SafeString(
      `<time datetime="${iso}" title="${utc}" data-format="relative" data-now="${now}"${past ? ' data-past' : ''}>${relativeTime(date, now, past)}</time>`,
    );
  };
  hbs.registerHelper('ago', (value: unknown, none: unknown) => timeTag(value, 'past', none));
  hbs.registerHelper('relative', (value: unknown, none: unknown) => timeTag(value, 'relative', none));
  hbs.registerHelper('when', (value: unknown, none: unknown) => timeTag(value, 'exact', none));
  return hbs;
}

/**
 * "just now", "5 min ago", "3 h ago", "2 d ago", "in 6 d", then a date for anything a year or more
 * away. `past`: the time is of something that has happened, so a time ahead of `now` is "just now".
 */
export function relativeTime(date: Date, now: number, past = false): string {
  const ms = (past ? Math.min(date.getTime(), now) : date.getTime()) - now;
  const seconds = Math.round(ms / 1000);
  const size = Math.abs(seconds);
  const say = (n: number, unit: string) => (seconds < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`);
  // By the sign of the difference itself: under half a second ago rounds to -0, which is not < 0.
  if (size < 45) return ms > 0 ? 'in a moment' : 'just now';
  if (size < 3600) return say(Math.max(1, Math.round(size / 60)), 'min');
  if (size < 86_400) return say(Math.round(size / 3600), 'h');
  if (size < 365 * 86_400) return say(Math.round(size / 86_400), 'd');
  return date.toISOString().slice(0, 10);
}

/**
 * Cookies, CSRF, security headers, static files and the view engine. Headers are set only
 * on pages and static files: the JSON API and /docs keep their own. (Form bodies are parsed
 * by pageFormParser, for pages only, so @fastify/formbody is not registered.)
 */
/** A random id per browser, kept long, so a sign-in from a browser never seen is noticed. */
export const deviceCookieName = (names: CookieNames) => `${names.secure ? '__Host-' : ''}kw_device`;

const deviceCookieOptions = (names: CookieNames) => ({
  path: '/',
  httpOnly: true,
  sameSite: 'lax' as const,
  secure: names.secure,
  maxAge: 400 * 24 * 60 * 60,
});

/** The browser's device id, given one now if it has none: a sign-in from such a browser is from a new device. */
export function browserDevice(request: FastifyRequest, reply: FastifyReply, names: CookieNames): string {
  const device = request.cookies[deviceCookieName(names)] || randomToken('kwd');
  reply.setCookie(deviceCookieName(names), device, deviceCookieOptions(names));
  return device;
}

/** What registerWeb leaves for the one onRequest hook of the app (app.factory.ts) to run on every request. */
export type WebRequestStep = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void;

export async function registerWeb(app: NestFastifyApplication, config: AppConfig): Promise<WebRequestStep> {
  const names = cookieNames(config);
  const root = projectRoot();
  const fastify = app.getHttpAdapter().getInstance();
  // Whether a route is a page is fixed when it is registered (before static files and the Nest
  // routes), so the header hook below reads one property instead of matching the URL.
  fastify.addHook('onRoute', (route) => {
    route.config = { ...route.config, kind: routeKind(route.url ?? route.path) };
  });
  registerCookies(fastify);
  const binding = (request: FastifyRequest) => csrfBinding(request, names);
  await app.register(fastifyCsrf as never, {
    cookieKey: names.csrf,
    cookieOpts: sessionCookieOptions(names),
    getToken: (request: FastifyRequest) =>
      (request.body as { _csrf?: unknown } | undefined)?._csrf ?? request.headers['x-csrf-token'],
    getUserInfo: binding,
    csrfOpts: { hmacKey: createHmac('sha256', config.jwtSecret).update('keyward csrf tokens').digest() },
  });
  app.getHttpAdapter().getInstance().decorate('csrfBinding', binding);
  await app.register(fastifyStatic as never, {
    root: join(root, 'static'),
    prefix: '/static/',
    decorateReply: false,
    index: false,
  });
  // The browser half of WebAuthn, from its package and from this origin (script-src 'self', no CDN).
  const webauthnBrowser = readFileSync(
    join(root, 'node_modules', '@simplewebauthn', 'browser', 'dist', 'bundle', 'index.umd.min.js'),
  );
  fastify.get('/static/vendor/simplewebauthn-browser.js', (_request, reply) => {
    void reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(webauthnBrowser);
  });
  // Declared here so that @fastify/view adds no onRequest hook to give every request `reply.locals` (unused).
  fastify.decorateReply('locals', null);
  await app.register(fastifyView as never, {
    engine: { handlebars: handlebars() },
    root: join(root, 'views'),
    layout: 'layouts/main.hbs',
    viewExt: 'hbs',
    production: config.isProduction,
    options: {
      partials: {
        field: 'partials/field.hbs',
        nav: 'partials/nav.hbs',
        flash: 'partials/flash.hbs',
        usage: 'partials/usage.hbs',
        events: 'partials/events.hbs',
        confirm: 'partials/confirm.hbs',
        'remove-consequence': 'partials/remove-consequence.hbs',
        'operator-events': 'partials/operator-events.hbs',
      },
    },
  });
  // helmet itself rather than its Fastify plugin, whose hooks (one of them async) would run on
  // every request, API-key calls included; this one reads the route's kind and stops on API routes.
  const securityHeaders = helmet({
    contentSecurityPolicy: CSP,
    referrerPolicy: { policy: 'same-origin' },
    frameguard: { action: 'deny' },
    strictTransportSecurity: names.secure ? undefined : false,
  });
  return (request, reply, done) => {
    readCookies(request);
    const kind = requestKind(request);
    if (!kind) return done();
    if (kind === 'html') reply.header('cache-control', 'no-store');
    securityHeaders(request.raw, reply.raw, (error?: unknown) => done(error instanceof Error ? error : undefined));
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    csrfBinding(request: FastifyRequest): string;
  }
}

/**
 * What a CSRF token is bound to besides the secret in the CSRF cookie: the dashboard session
 * this browser holds (a fixed value before sign-in), through an HMAC. A token made for one session does
 * not pass with another, so signing in (a new session cookie, and a new CSRF secret: see
 * rotateCsrfSecret) rotates it, and signing out ends it.
 */
function csrfBinding(request: FastifyRequest, names: CookieNames): string {
  const session = request.cookies?.[names.session];
  // Never '': @fastify/csrf's verify cannot match a token made for an empty userInfo.
  return session ? `session:${sha256(session)}` : 'signed-out';
}

/** The CSRF token for a form on this page, bound to this browser's CSRF secret and session. */
export function csrfToken(reply: FastifyReply): string {
  return reply.generateCsrf({ userInfo: reply.server.csrfBinding(reply.request) } as never);
}

/** Drops the browser's CSRF secret (at sign-in and sign-out); the next page makes a new one. */
export function clearCsrfSecret(reply: FastifyReply, names: CookieNames): void {
  reply.clearCookie(names.csrf, sessionCookieOptions(names));
}

/** Refuses a request whose CSRF token is missing, does not match the CSRF cookie, or was made for another session. */
export function assertCsrf(fastify: FastifyInstance, request: FastifyRequest): void {
  let passed = false;
  const check = (
    fastify as unknown as { csrfProtection(req: FastifyRequest, reply: { send(): void }, next: () => void): void }
  ).csrfProtection;
  check(request, { send: () => undefined }, () => (passed = true));
  if (!passed)
    throw new AppException(
      HttpStatus.FORBIDDEN,
      'CSRF_INVALID',
      'This form has expired or did not come from this site. Go back, reload the page and try again.',
    );
}
