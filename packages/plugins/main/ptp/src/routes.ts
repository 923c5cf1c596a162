import type { Result } from '@tscni/cni';
import type { Link } from '@tscni/net/host';
import { ipBatch } from '@tscni/net/host/ip';
import { jsonArray } from '@tscni/net/host/ip-json';
import { familyOfText, formatCIDR, networkOf, parseCIDR } from '@tscni/net/host/ipaddr';
import { writeSysctl } from '@tscni/net/host/sysctl';
import { ifaceConfigCommands } from '@tscni/net/pod/configure-iface';

export interface PodAddress {
  /** CIDR of the pod, e.g. 10.1.0.5/24. */
  address: string;
  gateway: string;
}

const hostBits = (ip: string) => (familyOfText(ip) === 4 ? 32 : 128);

/**
 * The pod side of a point-to-point link: the addresses without their subnet route
 * (`noprefixroute`, IPv6 without DAD), the link up, then per address `gw/32 dev` (scope link) and
 * `<subnet> via gw src <ip>`, and only then the IPAM routes, which go via those gateways.
 */
export function containerCommands(ifName: string, result: Result, addrs: PodAddress[]): string[][] {
  const configure = ifaceConfigCommands(ifName, result, { nodad: true, ifIndex: 1 });
  const up = configure.findIndex((c) => c[0] === 'link');
  const addresses = configure.slice(0, up).map((c) => [...c, 'noprefixroute']);
  const p2p: string[][] = [];
  for (const a of addrs) {
    const ip = a.address.split('/')[0];
    const subnet = formatCIDR(networkOf(parseCIDR(a.address)!));
    p2p.push(['route', 'add', `${a.gateway}/${hostBits(a.gateway)}`, 'dev', ifName, 'scope', 'link', 'src', ip]);
    p2p.push(['route', 'add', subnet, 'via', a.gateway, 'dev', ifName, 'src', ip]);
  }
  return [...addresses, configure[up], ...p2p, ...configure.slice(up + 1)];
}

/** The host end: up, each gateway as /32 (/128, no DAD), a host route to each pod address. One batch. */
export async function hostCommands(hostVeth: string, addrs: PodAddress[]): Promise<Link> {
  // No DAD on the host end either: its link-local address would stall neighbour discovery towards the pod.
  if (addrs.some((a) => familyOfText(a.gateway) === 6)) writeSysctl(`net.ipv6.conf.${hostVeth}.accept_dad`, '0');
  const cmds: string[][] = [['link', 'set', 'dev', hostVeth, 'up']];
  for (const a of addrs) {
    const v6 = familyOfText(a.gateway) === 6;
    cmds.push(['addr', 'add', `${a.gateway}/${hostBits(a.gateway)}`, 'dev', hostVeth, ...(v6 ? ['nodad'] : [])]);
  }
  for (const a of addrs) {
    const ip = a.address.split('/')[0];
    cmds.push(['route', 'add', `${ip}/${hostBits(ip)}`, 'dev', hostVeth, 'scope', 'host']);
  }
  cmds.push(['link', 'show', 'dev', hostVeth]);
  const out = await ipBatch(cmds, undefined, { json: true });
  return jsonArray<Link>(out)[0];
}
