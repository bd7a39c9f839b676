import { BlockList, isIPv4 } from 'node:net';

/** One entry of a key's IP allowlist (`10.0.0.0/8`, `2001:db8::/32` or one address), parsed. */
interface Range {
  address: string;
  family: 'ipv4' | 'ipv6';
  prefix: number;
}

function rangeOf(entry: string): Range {
  const [address, prefix] = entry.split('/');
  const family = isIPv4(address) ? 'ipv4' : 'ipv6';
  return { address, family, prefix: prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix) };
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
  return inner.map(rangeOf).every(({ address, family, prefix }) =>
    outerRanges.some(({ range, list }) => range.family === family && range.prefix <= prefix && list.check(address, family)),
  );
}
