/**
 * The external interface, as flanneld picks it: the first `-iface` (a name or one of its addresses) that
 * exists, else the interface of the default route; the public IP is `-public-ip` or that interface's
 * first global IPv4 address. On a dual-stack network the interface's first global IPv6 address is the
 * IPv6 VTEP's local address, and `-public-ipv6` (or that address) the lease's PublicIPv6.
 */
import { ipJson, parseIP } from '@tscni/net/host';

export interface ExternalIface {
  name: string;
  index: number;
  mtu: number;
  /** The interface's own address (the VXLAN device's local address). */
  ifaceAddr: string;
  publicIp: string;
  /** Dual-stack only (see ipv6Of). */
  ifaceAddr6?: string;
  publicIp6?: string;
}

interface AddrInfo {
  ifname: string;
  ifindex: number;
  mtu: number;
  addr_info: { family: string; local: string; scope: string }[];
}

const IFNAME = /^[A-Za-z0-9_.@:-]{1,15}$/;

export async function findExternalIface(ifaceFlags: readonly string[], publicIp?: string): Promise<ExternalIface> {
  if (publicIp !== undefined && parseIP(publicIp)?.family !== 4)
    throw new Error(`-public-ip ${JSON.stringify(publicIp)} is not an IPv4 address`);
  const links = await ipJson<AddrInfo[]>(['-4', 'addr', 'show']);
  const v4 = (l: AddrInfo) =>
    l.addr_info.filter((a) => a.family === 'inet' && a.scope === 'global').map((a) => a.local);
  let chosen: { link: AddrInfo; addr: string } | undefined;
  for (const want of ifaceFlags) {
    if (parseIP(want)) {
      const link = links.find((l) => v4(l).includes(want));
      if (link) chosen = { link, addr: want };
    } else {
      if (!IFNAME.test(want))
        throw new Error(`-iface ${JSON.stringify(want)} is neither an IP address nor an interface name`);
      const link = links.find((l) => l.ifname === want);
      if (link && v4(link).length) chosen = { link, addr: v4(link)[0] };
    }
    if (chosen) break;
  }
  if (!chosen && ifaceFlags.length)
    throw new Error(`none of the interfaces ${ifaceFlags.join(', ')} exists with an IPv4 address`);
  if (!chosen) {
    const routes = await ipJson<{ dev: string }[]>(['-4', 'route', 'show', 'default']);
    const link = routes.length ? links.find((l) => l.ifname === routes[0].dev) : undefined;
    if (!link || !v4(link).length) throw new Error('no default route: name the external interface with -iface');
    chosen = { link, addr: v4(link)[0] };
  }
  return {
    name: chosen.link.ifname,
    index: chosen.link.ifindex,
    mtu: chosen.link.mtu,
    ifaceAddr: chosen.addr,
    publicIp: publicIp ?? chosen.addr,
  };
}

/**
 * The external interface's IPv6 side, as flanneld finds it for a dual-stack network: its first global
 * (non-tentative) IPv6 address, and `-public-ipv6` or that address as the public one.
 */
export async function ipv6Of(ext: ExternalIface, publicIpv6?: string): Promise<ExternalIface> {
  if (publicIpv6 !== undefined && parseIP(publicIpv6)?.family !== 6)
    throw new Error(`-public-ipv6 ${JSON.stringify(publicIpv6)} is not an IPv6 address`);
  const links = await ipJson<
    { addr_info: { family: string; local: string; scope: string; tentative?: boolean; dadfailed?: boolean }[] }[]
  >(['-6', 'addr', 'show', 'dev', ext.name]);
  const addr = (links[0]?.addr_info ?? []).find(
    (a) => a.family === 'inet6' && a.scope === 'global' && !a.tentative && !a.dadfailed,
  )?.local;
  if (!addr) throw new Error(`the network config enables IPv6, but ${ext.name} has no global IPv6 address`);
  return { ...ext, ifaceAddr6: addr, publicIp6: publicIpv6 ?? addr };
}
