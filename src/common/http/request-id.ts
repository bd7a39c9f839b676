import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { rawHeader } from './raw-header';

export const REQUEST_ID_HEADER = 'x-request-id';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

// Unique without a random UUID per request: 48 random bits for this process, then a counter.
const PROCESS_PART = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x');
let issued = 0;

/** Keeps a caller's request id only when it is short and plain (it is logged and stored in the audit log); otherwise a new one. */
export function requestIdFor(request: IncomingMessage): string {
  const given = rawHeader(request, REQUEST_ID_HEADER);
  if (typeof given === 'string' && SANE_REQUEST_ID.test(given)) return given;
  issued = (issued + 1) % Number.MAX_SAFE_INTEGER;
  return `${PROCESS_PART}-${issued.toString(36)}`;
}
