import type { Result } from '@tscni/cni';
import { familyOfText } from '../host/ipaddr';

/**
 * The `ip` commands that configure `ifName` from a result, like the reference's `ipam.ConfigureIface`:
 * every address whose `interface` points at `ifName` (or is unset), the link up, then the routes,
 * a route without `gw` going via the first gateway of its family. Meant to join a larger batch.
 */
export function ifaceConfigCommands(
  ifName: string,
  result: Result,
  opts: { nodad?: boolean; ifIndex?: number } = {},
): string[][] {
  const ifIndex = opts.ifIndex ?? result.interfaces?.findIndex((i) => i.name === ifName && i.sandbox !== undefined);
  const ips = (result.ips ?? []).filter((ip) => ip.interface === undefined || ip.interface === ifIndex);
  const cmds: string[][] = [];
  const gateways: Record<4 | 6, string | undefined> = { 4: undefined, 6: undefined };
  for (const ip of ips) {
    const family = familyOfText(ip.address);
    cmds.push(['addr', 'add', ip.address, 'dev', ifName, ...(family === 6 && opts.nodad ? ['nodad'] : [])]);
    if (ip.gateway && !gateways[family]) gateways[family] = ip.gateway;
  }
  cmds.push(['link', 'set', 'dev', ifName, 'up']);
  for (const route of result.routes ?? []) {
    const family = familyOfText(route.dst);
    const gw = route.gw ?? gateways[family];
    // No `-4`/`-6` prefix: `ip -batch` takes only objects per line; the family follows from the dst.
    const cmd = ['route', 'add', route.dst, ...(gw ? ['via', gw] : []), 'dev', ifName];
    if (route.priority !== undefined) cmd.push('metric', String(route.priority));
    if (route.table !== undefined) cmd.push('table', String(route.table));
    if (route.scope !== undefined) cmd.push('scope', String(route.scope));
    if (route.mtu !== undefined) cmd.push('mtu', String(route.mtu));
    if (route.advmss !== undefined) cmd.push('advmss', String(route.advmss));
    cmds.push(cmd);
  }
  return cmds;
}

/** Sysctls the reference sets before configuring an interface that gets IPv6 addresses. */
export function ipv6Sysctls(ifName: string, result: Result): Record<string, string> {
  if (!(result.ips ?? []).some((ip) => familyOfText(ip.address) === 6)) return {};
  const dev = ifName.replace(/\./g, '/');
  return {
    'net.ipv6.conf.lo.disable_ipv6': '0',
    [`net.ipv6.conf.${dev}.disable_ipv6`]: '0',
    [`net.ipv6.conf.${dev}.keep_addr_on_down`]: '1',
  };
}
