import type { Route } from '@tscni/cni';
import { invalidConfig } from '@tscni/cni/errors';
import { formatIP, parseCIDR, parseIP } from '../host/ipaddr';

/**
 * IPAM `routes` as they go into a result: `dst` a CIDR and `gw` an address, both written the canonical
 * way (the reference prints parsed values); other route fields pass through. A bad entry is error 7
 * naming `<field>[i].dst` / `.gw`.
 */
export function canonicalRoutes(routes: readonly Route[], field: string): Route[] {
  return routes.map((route, i) => {
    const dst = parseCIDR(route.dst);
    if (!dst) throw invalidConfig(`${field}[${i}].dst`, `invalid CIDR address: ${route.dst}`);
    const out: Route = { ...route, dst: `${formatIP(dst.ip)}/${dst.prefix}` };
    if (route.gw !== undefined) {
      const gw = parseIP(route.gw);
      if (!gw) throw invalidConfig(`${field}[${i}].gw`, `invalid IP address: ${route.gw}`);
      out.gw = formatIP(gw);
    }
    return out;
  });
}
