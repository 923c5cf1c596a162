import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, Result } from '@tscni/cni';
import { CniError, ErrorCode, invalidConfig } from '@tscni/cni/errors';
import type { CIDR, Family, IP } from '@tscni/net/host';
import { formatIP, parseCIDR, parseIP } from '@tscni/net/host/ipaddr';

/** NetConf of sbr: `table` pins one routing table (rules only); `gateways` override the IPAM gateways. */
export const SbrConf = lazySchema(() =>
  z
    .object({
      table: z.number().int().min(1).max(0xffffffff).optional(),
      gateways: z.array(z.string()).optional(),
    })
    .passthrough(),
);
export type SbrConf = z.infer<typeof SbrConf>;

/** One pod address sbr routes: the address with its prefix, and its gateway (from `gateways` or IPAM). */
export interface SourceIP {
  cidr: CIDR;
  address: string;
  family: Family;
  gateway?: string;
  /** The gateway comes from `gateways`. */
  fixedGateway?: boolean;
}

/** At most one IPv4 and one IPv6 gateway, each a valid address (the reference's rules). */
export function staticGateways(conf: SbrConf): Partial<Record<Family, IP>> {
  const list = conf.gateways ?? [];
  if (list.length > 2) throw invalidConfig('gateways', 'cannot contain more than 2 entries (one IPv4, one IPv6)');
  const out: Partial<Record<Family, IP>> = {};
  for (const text of list) {
    const ip = parseIP(text);
    if (!ip) throw invalidConfig('gateways', `invalid static gateway IP address: ${text}`);
    if (out[ip.family])
      throw invalidConfig(
        'gateways',
        `contains multiple IPv${ip.family} addresses: ${formatIP(out[ip.family]!)} and ${text}`,
      );
    out[ip.family] = ip;
  }
  return out;
}

/**
 * The prevResult addresses of CNI_IFNAME: those pointing at it and those with no interface (as the
 * reference). A prevResult with no addresses at all is an error.
 */
export function sourceIPs(args: CmdArgs, prev: Result, gateways: Partial<Record<Family, IP>>): SourceIP[] {
  const ips = prev.ips ?? [];
  if (!ips.length) throw new Error(`No IP addresses supplied on interface: ${args.ifName}`);
  const out: SourceIP[] = [];
  for (const ip of ips) {
    const iface = ip.interface !== undefined ? prev.interfaces?.[ip.interface] : undefined;
    if (iface && iface.name !== args.ifName) continue;
    const cidr = parseCIDR(ip.address);
    if (!cidr) throw new CniError(ErrorCode.InvalidNetworkConfig, `prevResult: invalid address ${ip.address}`);
    const fixed = gateways[cidr.ip.family];
    out.push({
      cidr,
      address: formatIP(cidr.ip),
      family: cidr.ip.family,
      gateway: fixed ? formatIP(fixed) : ip.gateway,
      fixedGateway: !!fixed,
    });
  }
  return out;
}

export const hostLen = (f: Family): number => (f === 4 ? 32 : 128);
