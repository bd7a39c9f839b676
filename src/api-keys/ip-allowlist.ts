import { BlockList, isIP } from 'node:net';

/** One entry of a key's IP allowlist (`10.0.0.0/8`, `2001:db8::/32` or one address), parsed. */
export interface Range {
  address: string;
  family: 'ipv4' | 'ipv6';
  prefix: number;
}

/** The range an entry names, or undefined when it is not an address or CIDR range. */
export function parseCidr(entry: unknown): Range | undefined {
  if (typeof entry !== 'string') return undefined;
  const [address, prefix, ...rest] = entry.split('/');
  const version = isIP(address);
  if (!version || rest.length) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const bits = version === 4 ? 32 : 128;
  if (prefix === undefined) return { address, family, prefix: bits };
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) return undefined;
  return { address, family, prefix: Number(prefix) };
}

/** `10.0.0.0/8`, `2001:db8::/32` or a single address. */
export const isCidr = (value: unknown): boolean => parseCidr(value) !== undefined;

function rangeOf(entry: string): Range {
  const range = parseCidr(entry);
  if (!range) throw new Error('Not an IP address or CIDR range');
  return range;
}

/** The addresses an allowlist lets in, to check a request's address against. */
export function blockListOf(entries: string[]): BlockList {
  const list = new BlockList();
  for (const { address, family, prefix } of entries.map(rangeOf)) list.addSubnet(address, prefix, family);
  return list;
}

/**
 * True when every address `inner` lets in, `outer` lets in too. A missing or empty list lets
 * in every address. Two CIDR ranges are either nested or disjoint, so an inner range lies
 * within an outer one when its prefix is at least as long and one of its addresses is inside.
 */
export function allowlistWithin(inner: string[] | null, outer: string[] | null): boolean {
  if (!outer?.length) return true;
  if (!inner?.length) return false;
  const outerRanges = outer.map((entry) => ({ range: rangeOf(entry), list: blockListOf([entry]) }));
  return inner
    .map(rangeOf)
    .every(({ address, family, prefix }) =>
      outerRanges.some(
        ({ range, list }) => range.family === family && range.prefix <= prefix && list.check(address, family),
      ),
    );
}
