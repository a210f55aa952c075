// Addresses a URL fetched on a user's or a provider's behalf must never reach (docs/rules.md §8, SSRF): anything
// that is not ordinary public unicast. The lists follow the IANA special-purpose registries; a range is
// here when traffic to it could land inside our own network, on this host, or somewhere undefined.
import { BlockList, isIP } from 'node:net';

const RESERVED_IPV4: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network", includes the unspecified 0.0.0.0
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, where cloud metadata services live
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes the broadcast 255.255.255.255
];

const RESERVED_IPV6: Array<[string, number]> = [
  ['::', 96], // unspecified, loopback and the deprecated IPv4-compatible form
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID…)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4, which tunnels to an arbitrary embedded IPv4 address
  ['3fff::', 20], // documentation
  ['5f00::', 16], // segment routing
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

const reserved = new BlockList();
for (const [network, prefix] of RESERVED_IPV4) reserved.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of RESERVED_IPV6) reserved.addSubnet(network, prefix, 'ipv6');

/** The address family net.BlockList expects, or undefined when the text is not an IP address. */
export function ipFamily(address: string): 'ipv4' | 'ipv6' | undefined {
  const version = isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
}

/**
 * True for every address a server-side fetch must refuse. Text that is not an IP address counts as
 * reserved, so a caller that forgets to resolve a name fails closed.
 */
export function isReservedAddress(address: string): boolean {
  const family = ipFamily(address);
  if (!family) return true;
  // BlockList already matches IPv4-mapped IPv6 (::ffff:a.b.c.d) against the IPv4 rules.
  if (reserved.check(address, family)) return true;
  // NAT64 (64:ff9b::/96) is how IPv6-only hosts reach the IPv4 internet: judge the IPv4 address inside.
  const embedded = family === 'ipv6' ? embeddedIPv4(address) : undefined;
  return embedded !== undefined && reserved.check(embedded, 'ipv4');
}

/** The IPv4 address inside a NAT64 (64:ff9b::/96) or IPv4-mapped address, if it is one. */
export function embeddedIPv4(address: string): string | undefined {
  const groups = expandIPv6(address);
  if (!groups) return undefined;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  if (!mapped && !nat64) return undefined;
  const [high, low] = [groups[6]!, groups[7]!];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The eight 16-bit groups of an IPv6 address (with or without brackets, '::' and a dotted tail). */
export function expandIPv6(text: string): number[] | undefined {
  let address = text.replace(/^\[|\]$/g, '');
  if (isIP(address) !== 6) return undefined;
  // A dotted IPv4 tail (::ffff:127.0.0.1) is the last two groups written another way.
  address = address.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_, a: string, b: string, c: string, d: string) => `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const [left = '', right] = address.split('::');
  if (right === undefined) return parse(left);
  const [leftGroups, rightGroups] = [parse(left), parse(right)];
  return [...leftGroups, ...new Array<number>(8 - leftGroups.length - rightGroups.length).fill(0), ...rightGroups];
}
