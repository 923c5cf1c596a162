import type { CIDR, IP } from '@tscni/net/host';
import {
  addToIP,
  cidrContains,
  formatCIDR,
  formatIP,
  hasHostBits,
  lastOf,
  networkOf,
  parseCIDR,
  parseIP,
} from '@tscni/net/host/ipaddr';

/**
 * IPAM ranges as host-local's config describes them: a subnet with an inclusive [rangeStart, rangeEnd]
 * and a gateway that is never handed out. A range set is a list of ranges of one family tried in order.
 * Validation messages are the reference's, so users see the same words from either binary.
 */
export interface RangeConf {
  subnet: string;
  rangeStart?: string;
  rangeEnd?: string;
  gateway?: string;
}

export interface IPRange {
  subnet: CIDR;
  rangeStart: IP;
  rangeEnd: IP;
  gateway: IP;
}

export type RangeSet = IPRange[];

const bitsOf = (ip: IP) => (ip.family === 4 ? 32 : 128);

function parseAddress(text: string, what: string): IP {
  const ip = parseIP(text);
  if (!ip) throw new Error(`invalid IP address for ${what}: ${text}`);
  return ip;
}

/** Fill in the defaults and check one range (throws Error with the reference's message). */
export function canonicalizeRange(conf: RangeConf): IPRange {
  const subnet = parseCIDR(conf.subnet);
  if (!subnet) throw new Error(`invalid CIDR address: ${conf.subnet}`);
  if (subnet.prefix > bitsOf(subnet.ip) - 2)
    throw new Error(`Network ${formatCIDR(subnet)} too small to allocate from`);
  if (hasHostBits(subnet)) {
    throw new Error(
      `Network has host bits set. For a subnet mask of length ${subnet.prefix} the network address is ${formatIP(networkOf(subnet).ip)}`,
    );
  }
  const first = addToIP(subnet.ip, 1n);
  const last = lastOf(subnet);
  const range: IPRange = {
    subnet,
    gateway: conf.gateway ? parseAddress(conf.gateway, 'gateway') : first,
    rangeStart: conf.rangeStart ? parseAddress(conf.rangeStart, 'rangeStart') : first,
    rangeEnd: conf.rangeEnd
      ? parseAddress(conf.rangeEnd, 'rangeEnd')
      : subnet.ip.family === 4
        ? addToIP(last, -1n)
        : last,
  };
  if (range.gateway.family !== subnet.ip.family)
    throw new Error(`gateway ${formatIP(range.gateway)} is not in the family of network ${formatCIDR(subnet)}`);
  if (!cidrContains(subnet, range.rangeStart))
    throw new Error(`RangeStart ${formatIP(range.rangeStart)} not in network ${formatCIDR(subnet)}`);
  if (!cidrContains(subnet, range.rangeEnd))
    throw new Error(`RangeEnd ${formatIP(range.rangeEnd)} not in network ${formatCIDR(subnet)}`);
  if (range.rangeStart.value > range.rangeEnd.value)
    throw new Error(`RangeStart ${formatIP(range.rangeStart)} is after RangeEnd ${formatIP(range.rangeEnd)}`);
  return range;
}

/** Canonicalize every range of a set: not empty, one family, no two ranges overlapping. */
export function canonicalizeRangeSet(confs: readonly RangeConf[]): RangeSet {
  if (confs.length === 0) throw new Error('empty range set');
  const set = confs.map(canonicalizeRange);
  if (set.some((r) => r.subnet.ip.family !== set[0].subnet.ip.family)) throw new Error('mixed address families');
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      if (rangesOverlap(set[i], set[j]))
        throw new Error(`subnets ${formatRange(set[i])} and ${formatRange(set[j])} overlap`);
    }
  }
  return set;
}

/** Inside the subnet and between rangeStart and rangeEnd (inclusive). */
export const rangeContains = (r: IPRange, ip: IP): boolean =>
  cidrContains(r.subnet, ip) && ip.value >= r.rangeStart.value && ip.value <= r.rangeEnd.value;

export const rangesOverlap = (a: IPRange, b: IPRange): boolean =>
  a.subnet.ip.family === b.subnet.ip.family &&
  (rangeContains(a, b.rangeStart) ||
    rangeContains(a, b.rangeEnd) ||
    rangeContains(b, a.rangeStart) ||
    rangeContains(b, a.rangeEnd));

export const rangeSetFor = (set: RangeSet, ip: IP): IPRange | undefined => set.find((r) => rangeContains(r, ip));

export const rangeSetContains = (set: RangeSet, ip: IP): boolean => rangeSetFor(set, ip) !== undefined;

export const rangeSetsOverlap = (a: RangeSet, b: RangeSet): boolean =>
  a.some((x) => b.some((y) => rangesOverlap(x, y)));

export const rangeSetFamily = (set: RangeSet): 4 | 6 => set[0].subnet.ip.family;

/** `start-end`, and a set as its ranges joined by commas (the reference's wording in errors). */
export const formatRange = (r: IPRange): string => `${formatIP(r.rangeStart)}-${formatIP(r.rangeEnd)}`;
export const formatRangeSet = (set: RangeSet): string => set.map(formatRange).join(',');

/** How many addresses of the range can be handed out (the gateway excluded). */
export function rangeCapacity(r: IPRange): bigint {
  const size = r.rangeEnd.value - r.rangeStart.value + 1n;
  return rangeContains(r, r.gateway) ? size - 1n : size;
}
