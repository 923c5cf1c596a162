import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import { addrCidr, listAddrs } from '@tscni/net/host/addr';
import { formatIP, ipEqual, parseCIDR } from '@tscni/net/host/ipaddr';
import { getLink } from '@tscni/net/host/link';
import { loadConfig, toIPConfig } from './config';

/** ADD: the configured (or runtime-supplied) addresses, routes and DNS as an IPAM result. */
function add(args: CmdArgs): Result {
  const conf = loadConfig(args);
  const result: Result = { cniVersion: conf.cniVersion, ips: conf.addresses.map(toIPConfig) };
  if (conf.routes.length) result.routes = conf.routes;
  if (conf.dns) result.dns = conf.dns;
  return result;
}

/** DEL: static allocates nothing, so there is nothing to release. */
function del(): void {}

/**
 * CHECK: every address must be in prevResult (with its gateway when one is configured) and, beyond the
 * reference, actually be on CNI_IFNAME inside CNI_NETNS.
 */
async function check(args: CmdArgs): Promise<void> {
  const conf = loadConfig(args);
  const prev = args.prevResult();
  if (!prev) throw new CniError(ErrorCode.InvalidNetworkConfig, 'Required prevResult missing');
  const prevIPs = (prev.ips ?? []).map((ip) => ({ cidr: parseCIDR(ip.address), gateway: ip.gateway }));
  for (const a of conf.addresses) {
    const entry = prevIPs.find((p) => p.cidr && ipEqual(p.cidr.ip, a.cidr.ip));
    if (!entry || (a.gateway && entry.gateway !== formatIP(a.gateway))) {
      throw new Error(`static: Failed to match addr ${formatIP(a.cidr.ip)} on interface ${args.ifName}`);
    }
  }
  if (!(await getLink(args.ifName, args.netns)))
    throw new Error(`static: interface ${args.ifName} not found in ${args.netns}`);
  const present = new Set((await listAddrs(args.ifName, args.netns, 'all')).map(addrCidr));
  for (const ip of conf.addresses.map(toIPConfig)) {
    if (!present.has(ip.address))
      throw new Error(`static: address ${ip.address} is not on interface ${args.ifName} in ${args.netns}`);
  }
}

export const staticIPAM: PluginFuncs = { add, del, check, gc: () => {}, status: () => {} };
