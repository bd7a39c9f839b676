/** Server-rendered pages (HTML errors, security headers and the 401 → /login redirect apply). */
const PAGE_PATH = /^\/(dashboard|login|logout|forgot|reset|invite)(\/|\?|$)/;

export const isHtmlPage = (url: string) => PAGE_PATH.test(url);

/** Pages plus their stylesheet and script. */
export const isPagePath = (url: string) => PAGE_PATH.test(url) || url.startsWith('/static/');
