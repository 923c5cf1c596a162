import type { LeaseInfo } from '../rpc';
import { Opt, bufferToIP, type Packet } from './packet';

/** What the daemon keeps of an ACK: enough to renew, release, rebuild the result and survive a restart. */
export interface Binding {
  ip: string;
  prefix: number;
  serverID: string;
  gateway?: string;
  routes: { dst: string; gw?: string }[];
  /** Absolute times, unix ms. */
  boundAt: number;
  renewAt: number;
  rebindAt: number;
  expiresAt: number;
}

/** Turn an ACK into a binding; `now` is when the REQUEST went out (RFC 2131 §4.4.1). */
export function bindingFromAck(ack: Packet, now: number): Binding {
  const mask = ack.options.get(Opt.SUBNET_MASK);
  if (!mask || mask.length !== 4) throw new Error('DHCP option Subnet Mask not found in DHCPACK');
  const leaseSecs = readSeconds(ack, Opt.LEASE_TIME);
  if (leaseSecs === undefined) throw new Error('DHCP option Lease Time not found in DHCPACK');
  let rebind = readSeconds(ack, Opt.REBINDING_TIME);
  if (rebind === undefined || rebind > leaseSecs) rebind = (leaseSecs * 85) / 100;
  let renew = readSeconds(ack, Opt.RENEWAL_TIME);
  if (renew === undefined || renew > rebind) renew = leaseSecs / 2;
  const serverID = ack.options.get(Opt.SERVER_ID);
  const routers = ack.options.get(Opt.ROUTER);
  const gateway = routers && routers.length >= 4 ? bufferToIP(routers) : undefined;
  return {
    ip: ack.yiaddr,
    prefix: maskToPrefix(mask),
    serverID: serverID && serverID.length === 4 ? bufferToIP(serverID) : ack.siaddr,
    ...(gateway ? { gateway } : {}),
    routes: leaseRoutes(ack, gateway),
    boundAt: now,
    renewAt: now + renew * 1000,
    rebindAt: now + rebind * 1000,
    expiresAt: now + leaseSecs * 1000,
  };
}

export const leaseInfo = (b: Binding): LeaseInfo => ({
  address: `${b.ip}/${b.prefix}`,
  ...(b.gateway ? { gateway: b.gateway } : {}),
  routes: b.routes,
  expires: b.expiresAt,
});

/**
 * RFC 3442: classless static routes (121), when present, replace both the static routes (33) and the
 * router option. Otherwise: static routes (classful destinations), then the default route via the router.
 */
function leaseRoutes(ack: Packet, gateway: string | undefined): Binding['routes'] {
  const classless = ack.options.get(Opt.CLASSLESS_ROUTES);
  if (classless) {
    const routes = parseClasslessRoutes(classless);
    if (routes.length) return routes;
  }
  const routes: Binding['routes'] = [];
  const stat = ack.options.get(Opt.STATIC_ROUTES) ?? Buffer.alloc(0);
  for (let i = 0; i + 8 <= stat.length; i += 8) {
    const dst = bufferToIP(stat, i);
    routes.push({ dst: `${dst}/${classfulPrefix(stat[i])}`, gw: bufferToIP(stat, i + 4) });
  }
  if (gateway) routes.push({ dst: '0.0.0.0/0', gw: gateway });
  return routes;
}

/** Option 121: [width, significant octets of the destination, router(4)]…; router 0.0.0.0 = on-link. */
export function parseClasslessRoutes(buf: Buffer): Binding['routes'] {
  const routes: Binding['routes'] = [];
  let i = 0;
  while (i < buf.length) {
    const width = buf[i++];
    if (width > 32) return [];
    const octets = Math.ceil(width / 8);
    if (i + octets + 4 > buf.length) return [];
    const dst = Buffer.alloc(4);
    buf.copy(dst, 0, i, i + octets);
    i += octets;
    const gw = bufferToIP(buf, i);
    i += 4;
    routes.push(gw === '0.0.0.0' ? { dst: `${bufferToIP(dst)}/${width}` } : { dst: `${bufferToIP(dst)}/${width}`, gw });
  }
  return routes;
}

function readSeconds(p: Packet, code: number): number | undefined {
  const v = p.options.get(code);
  return v && v.length === 4 ? v.readUInt32BE(0) : undefined;
}

function maskToPrefix(mask: Buffer): number {
  const n = mask.readUInt32BE(0);
  let prefix = 0;
  while (prefix < 32 && n & (0x80000000 >>> prefix)) prefix++;
  return prefix;
}

const classfulPrefix = (firstOctet: number): number => (firstOctet < 128 ? 8 : firstOctet < 192 ? 16 : 24);
