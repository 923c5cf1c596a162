import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, DNS, IPConfig, Route } from '@tscni/cni';
import { CniError, ErrorCode, invalidConfig } from '@tscni/cni/errors';
import { emptyAsUnset } from '@tscni/cni/go-json';
import { requestedIPsShape } from '@tscni/cni/requested-ips';
import { DNSSchema, RouteSchema } from '@tscni/cni/types';
import { versionAtLeast } from '@tscni/cni/version';
import type { CIDR, IP } from '@tscni/net/host';
import { cidrContains, formatIP, parseCIDR, parseIP } from '@tscni/net/host/ipaddr';
import { canonicalRoutes } from '@tscni/net/pod/ipam-routes';

/** static's part of the network config (cni.md §3.3). */
// gateway is a net.IP in the reference: "" decodes to nil
const AddressSchema = lazySchema(() =>
  z.object({ address: z.string(), gateway: emptyAsUnset(z.string()) }).passthrough(),
);

const StaticNetConfSchema = lazySchema(() =>
  z
    .object({
      cniVersion: z.string(),
      name: z.string().optional(),
      ipam: z
        .object({
          type: z.string().optional(),
          addresses: z.array(AddressSchema).optional(),
          routes: z.array(RouteSchema).optional(),
          dns: DNSSchema.optional(),
        })
        .passthrough(),
      ...requestedIPsShape(),
    })
    .passthrough(),
);

export interface StaticAddress {
  cidr: CIDR;
  gateway?: IP;
}

export interface StaticConfig {
  cniVersion: string;
  addresses: StaticAddress[];
  routes: Route[];
  dns?: DNS;
}

/**
 * Decode the config. Address sources replace each other, highest first: runtimeConfig.ips, then
 * args.cni.ips, then CNI_ARGS `IP=` (with `GATEWAY=`), then `ipam.addresses`. Every entry is a CIDR.
 */
export function loadConfig(args: CmdArgs): StaticConfig {
  if (args.netConf.ipam === undefined)
    throw new CniError(ErrorCode.InvalidNetworkConfig, "IPAM config missing 'ipam' key");
  const conf = args.parse(StaticNetConfSchema);
  const addresses =
    fromList(conf.runtimeConfig?.ips, 'runtimeConfig.ips') ??
    fromList(conf.args?.cni?.ips, 'args.cni.ips') ??
    fromCniArgs(args) ??
    fromConfig(conf.ipam.addresses ?? []);
  const perFamily = { 4: 0, 6: 0 };
  for (const a of addresses) perFamily[a.cidr.ip.family]++;
  if ((perFamily[4] > 1 || perFamily[6] > 1) && !versionAtLeast(conf.cniVersion, '0.3.0')) {
    throw invalidConfig('cniVersion', `CNI version ${conf.cniVersion} does not support more than 1 address per family`);
  }
  const dns = conf.ipam.dns && Object.keys(conf.ipam.dns).length ? conf.ipam.dns : undefined;
  return {
    cniVersion: conf.cniVersion,
    addresses,
    routes: canonicalRoutes(conf.ipam.routes ?? [], 'ipam.routes'),
    ...(dns ? { dns } : {}),
  };
}

function fromList(list: string[] | undefined, field: string): StaticAddress[] | undefined {
  if (!list?.length) return undefined;
  return list.map((text, i) => {
    const cidr = parseCIDR(text.trim());
    if (!cidr)
      throw invalidConfig(`${field}[${i}]`, `an entry in the 'ips' field is NOT in CIDR notation, got: '${text}'`);
    return { cidr };
  });
}

function fromCniArgs(args: CmdArgs): StaticAddress[] | undefined {
  const env = args.cniArgs(['IP', 'GATEWAY']);
  if (!env.IP) return undefined;
  const addresses: StaticAddress[] = env.IP.split(',').map((item) => {
    const cidr = parseCIDR(item.trim());
    if (!cidr)
      throw new CniError(
        ErrorCode.InvalidEnvironmentVariables,
        `CNI_ARGS: the 'ip' field is expected to be in CIDR notation, got: '${item.trim()}'`,
      );
    return { cidr };
  });
  for (const item of env.GATEWAY ? env.GATEWAY.split(',') : []) {
    const gw = parseIP(item.trim());
    if (!gw) throw new CniError(ErrorCode.InvalidEnvironmentVariables, `CNI_ARGS: invalid gateway address: ${item}`);
    for (const a of addresses) if (cidrContains(a.cidr, gw)) a.gateway = gw;
  }
  return addresses;
}

function fromConfig(list: { address: string; gateway?: string }[]): StaticAddress[] {
  return list.map((entry, i) => {
    const cidr = parseCIDR(entry.address);
    if (!cidr)
      throw invalidConfig(
        `ipam.addresses[${i}].address`,
        `the 'address' field is expected to be in CIDR notation, got: '${entry.address}'`,
      );
    if (entry.gateway === undefined) return { cidr };
    const gateway = parseIP(entry.gateway);
    if (!gateway) throw invalidConfig(`ipam.addresses[${i}].gateway`, `invalid IP address: ${entry.gateway}`);
    return { cidr, gateway };
  });
}

/** The result entry of one address: `ip/prefix` (host bits kept) and its gateway. */
export const toIPConfig = (a: StaticAddress): IPConfig => ({
  address: `${formatIP(a.cidr.ip)}/${a.cidr.prefix}`,
  ...(a.gateway ? { gateway: formatIP(a.gateway) } : {}),
});
