import { Header } from '@nestjs/common';

/**
 * For responses that carry a full key or token: no browser, proxy or CDN may keep a copy
 * (RFC 9111 no-store), whatever caching the rest of the API allows.
 */
export const NoStore = () => Header('Cache-Control', 'no-store');
