import type { CmdArgs, Result } from '@tscni/cni';
import { CniError, ErrorCode, invalidConfig } from '@tscni/cni/errors';
import { emptyAsUnset } from '@tscni/cni/go-json';
import { interfaceNameProblem, validateNetworkName } from '@tscni/cni/validate';
import type { CIDR } from '@tscni/net/host';
import { parseCIDR } from '@tscni/net/host/ipaddr';
import { iptablesAvailable, nftAvailable } from '@tscni/net/netfilter/iptables';
import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';

export const FirewallConfSchema = lazySchema(() =>
  z
    .object({
      name: z.string().optional(),
      backend: emptyAsUnset(z.enum(['iptables', 'nftables', 'firewalld'])),
      iptablesAdminChainName: emptyAsUnset(
        z.string().regex(/^[A-Za-z0-9_.-]{1,28}$/, 'must be an iptables chain name'),
      ),
      firewalldZone: z.string().optional(),
      ingressPolicy: emptyAsUnset(z.enum(['open', 'same-bridge', 'isolated'])),
    })
    .passthrough(),
);

export type IngressPolicy = 'open' | 'same-bridge' | 'isolated';

export interface FirewallConf {
  netName: string;
  containerID: string;
  ifName: string;
  backend: 'iptables' | 'nftables' | 'firewalld';
  /** No `backend` in the config: firewalld takes over when it runs (backend.ts, the reference's default). */
  backendDefaulted: boolean;
  firewalldZone?: string;
  adminChain: string;
  ingressPolicy: IngressPolicy;
}

/** Parse the config. Without `backend`: iptables unless only nft exists (firewalld when it runs: see backend.ts). */
export function parseConf(args: CmdArgs): FirewallConf {
  const raw = args.parse(FirewallConfSchema);
  return {
    netName: validateNetworkName(raw.name),
    containerID: args.containerID,
    ifName: args.ifName,
    backend: raw.backend ?? (!iptablesAvailable() && nftAvailable() ? 'nftables' : 'iptables'),
    backendDefaulted: raw.backend === undefined,
    firewalldZone: raw.firewalldZone,
    adminChain: raw.iptablesAdminChainName ?? 'CNI-ADMIN',
    ingressPolicy: raw.ingressPolicy ?? 'open',
  };
}

/** Every address of the result (the reference opens all of them, whatever the interface). */
export function resultAddrs(result: Result | undefined): CIDR[] {
  return (result?.ips ?? []).map((ip) => {
    const cidr = parseCIDR(ip.address);
    if (!cidr)
      throw new CniError(
        ErrorCode.DecodingFailure,
        `invalid prevResult: ips: invalid address ${JSON.stringify(ip.address)}`,
      );
    return cidr;
  });
}

/** The bridge of a same-bridge/isolated policy: the first interface of the result, as the bridge plugin reports it. */
export function bridgeOf(result: Result, policy: IngressPolicy): string {
  const name = result.interfaces?.[0]?.name;
  if (!name)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `interface needs to be set for ingress policy "${policy}", make sure to chain "firewall" plugin with "bridge"`,
    );
  const problem = interfaceNameProblem(name);
  if (problem || !/^[A-Za-z0-9_.@%+=-]+$/.test(name))
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `invalid prevResult: interfaces[0].name: ${problem ?? 'unsafe characters'}`,
    );
  return name;
}
