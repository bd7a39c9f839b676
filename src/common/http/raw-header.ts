import type { IncomingMessage } from 'node:http';

/**
 * A header read from rawHeaders, undefined when absent and null when sent more than once:
 * `request.headers` joins a repeated header into one value, which hides that it was sent twice.
 */
export function rawHeader(request: IncomingMessage, name: string): string | null | undefined {
  const raw = request.rawHeaders;
  let found: string | null | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length !== name.length || raw[i].toLowerCase() !== name) continue;
    if (found !== undefined) return null;
    found = raw[i + 1];
  }
  return found;
}
