import type { Result } from '@tscni/cni';
import { addToIP, familyOfText, formatIP, networkOf, parseCIDR } from '@tscni/net/host/ipaddr';
import type { BridgeConf } from './config';

/** Index of the container interface in the bridge result: [bridge, host veth, container]. */
export const CONTAINER_INDEX = 2;

/**
 * Turn the IPAM result into the bridge's: every IP points at the container interface; with
 * `isGateway` an IP without gateway gets network+1; with `isDefaultGateway` a default route via
 * the gateway is added per family unless IPAM already gave one with a gateway. Returns the gateway
 * CIDRs (gateway IP with the pod's prefix) to put on the bridge.
 */
export function applyGateways(result: Result, conf: BridgeConf): string[] {
  const gateways: string[] = [];
  const routes = (result.routes ??= []);
  const hasDefault: Record<4 | 6, boolean> = { 4: false, 6: false };
  for (const ip of result.ips ?? []) {
    const family = familyOfText(ip.address);
    const cidr = parseCIDR(ip.address);
    if (!cidr) throw new Error(`IPAM returned an invalid address ${JSON.stringify(ip.address)}`);
    ip.interface = CONTAINER_INDEX;
    if (!ip.gateway && conf.isGateway) ip.gateway = formatIP(addToIP(networkOf(cidr).ip, 1n));
    if (conf.isDefaultGateway && !hasDefault[family]) {
      const any = family === 4 ? '0.0.0.0/0' : '::/0';
      hasDefault[family] = routes.some((r) => r.gw && r.dst === any);
      if (!hasDefault[family]) routes.push({ dst: any, gw: ip.gateway });
      hasDefault[family] = true;
    }
    if (conf.isGateway && ip.gateway) gateways.push(`${ip.gateway}/${cidr.prefix}`);
  }
  if (!routes.length) delete result.routes;
  return gateways;
}
