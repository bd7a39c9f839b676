import { allowlistWithin, blockListOf, isCidr, parseCidr } from './ip-allowlist';

describe('IP allowlists', () => {
  it('let in the addresses of their ranges and single addresses, IPv4 and IPv6', () => {
    const list = blockListOf(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32']);
    expect(['10.255.0.1', '192.168.1.7'].map((ip) => list.check(ip, 'ipv4'))).toEqual([true, true]);
    expect(['11.0.0.1', '192.168.1.8'].map((ip) => list.check(ip, 'ipv4'))).toEqual([false, false]);
    expect([list.check('2001:db8:ffff::1', 'ipv6'), list.check('2001:db9::1', 'ipv6')]).toEqual([true, false]);
  });

  it.each([
    [['10.1.0.0/16'], ['10.0.0.0/8']],
    [['10.1.2.3'], ['10.0.0.0/8']],
    [['10.0.0.0/8'], ['10.0.0.0/8']],
    [
      ['10.0.0.0/24', '192.168.1.0/24'],
      ['192.168.0.0/16', '10.0.0.0/8'],
    ],
    [['2001:db8:1::/48'], ['2001:db8::/32']],
    [['10.9.9.9/8'], ['10.0.0.0/8']],
    [['10.0.0.1'], null],
    [null, null],
  ])('%j lies within %j', (inner, outer) => {
    expect(allowlistWithin(inner, outer)).toBe(true);
  });

  it.each([
    [['10.0.0.0/8'], ['10.1.0.0/16']],
    [['11.0.0.1'], ['10.0.0.0/8']],
    [['10.0.0.0/24', '172.16.0.1'], ['10.0.0.0/8']],
    [['2001:db8::/31'], ['2001:db8::/32']],
    [['::ffff:10.0.0.1'], ['10.0.0.0/8']],
    [null, ['10.0.0.0/8']],
    [[], ['10.0.0.0/8']],
  ])('%j does not lie within %j', (inner, outer) => {
    expect(allowlistWithin(inner, outer)).toBe(false);
  });

  it.each([
    ['10.0.0.0/8', { address: '10.0.0.0', family: 'ipv4', prefix: 8 }],
    ['192.168.1.7', { address: '192.168.1.7', family: 'ipv4', prefix: 32 }],
    ['2001:db8::/32', { address: '2001:db8::', family: 'ipv6', prefix: 32 }],
    ['::1', { address: '::1', family: 'ipv6', prefix: 128 }],
  ])('parses %s', (entry, range) => {
    expect(parseCidr(entry)).toEqual(range);
    expect(isCidr(entry)).toBe(true);
  });

  it.each([
    '10.0.0.0/33',
    '10.0.0/8',
    'example.com',
    '::1/129',
    '10.0.0.1/8/1',
    '10.0.0.0/',
    '',
    'localhost',
    '10.0.0.0/+8',
    42,
    null,
  ])('refuses %j as an entry', (entry) => {
    expect(parseCidr(entry)).toBeUndefined();
    expect(isCidr(entry)).toBe(false);
  });
});
