import type { FastifyRequest } from 'fastify';

/** Server-rendered pages (HTML errors, security headers and the 401 → /login redirect apply). */
const PAGE_PATH = /^\/(dashboard|operator|login|logout|forgot|reset|invite|email\/confirm)(\/|\?|$)/;
const ASSET_PATH = /^\/static\//;

/** What a route serves: an HTML page, a page's stylesheet or script, or (false) the JSON API. */
export type RouteKind = 'html' | 'asset' | false;

/** Decided once per route pattern (`/dashboard/keys/:id`), when the route is registered. */
export function routeKind(pattern: string): RouteKind {
  if (PAGE_PATH.test(pattern)) return 'html';
  return ASSET_PATH.test(pattern) ? 'asset' : false;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set for every route by registerWeb's onRoute hook. */
    kind?: RouteKind;
  }
}

/**
 * What this request reached, from the matched route, never the raw URL: `/%64ashboard` is
 * routed to `/dashboard` and must get a page's headers. An unmatched request (404) is read
 * from its decoded path, so a mistyped dashboard link still gets the HTML error page; at any
 * other unknown address a browser (one that asks for HTML) gets the page too, API clients JSON.
 */
export function requestKind(request: FastifyRequest): RouteKind {
  const kind = request.routeOptions.config?.kind;
  if (kind !== undefined) return kind;
  if (request.routeOptions.url !== undefined) return routeKind(request.routeOptions.url);
  return routeKind(decodedPath(request.url)) || (acceptsHtml(request) ? 'html' : false);
}

/** A browser navigating asks for text/html; fetch(), curl and API clients do not. */
export const acceptsHtml = (request: FastifyRequest) => /\btext\/html\b/i.test(request.headers.accept ?? '');

export const isHtmlPage = (request: FastifyRequest) => requestKind(request) === 'html';

function decodedPath(url: string): string {
  try {
    return decodeURIComponent(url.split('?')[0]);
  } catch {
    return url;
  }
}
