/**
 * flannel's network configuration (`<prefix>/config`) and the subnet arithmetic of its etcd subnet
 * manager: SubnetLen defaults to 24 (two bits longer than the network's prefix when that is longer), SubnetMin to
 * the network's second subnet, SubnetMax to its last.
 */
import { cidrContains, formatCIDR, formatIP, networkOf, parseCIDR, type CIDR } from '@tscni/net/host';

export type BackendType = 'vxlan' | 'host-gw';

/** Where a family's subnets come from: SubnetLen-long blocks of `network` between subnetMin and subnetMax. */
export interface SubnetPool {
  network: CIDR;
  subnetLen: number;
  subnetMin: CIDR;
  subnetMax: CIDR;
}

export interface NetworkConfig {
  network: CIDR;
  subnetLen: number;
  subnetMin: CIDR;
  subnetMax: CIDR;
  /** The IPv6 pool, when the config has `"EnableIPv6": true` (flannel leases from it alongside the IPv4 one). */
  ipv6?: SubnetPool;
  /** `IPv6Network` given without `"EnableIPv6": true`: flanneld ignores it, and so does the agent (with a warning). */
  ipv6Ignored: boolean;
  backend: { type: BackendType; vni: number; port: number; directRouting: boolean };
  /** The JSON as stored, for logs. */
  raw: unknown;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * A family's pool with flannel's defaults: SubnetLen 24 (IPv4) or 64 (IPv6) when the network is large
 * enough, else two bits longer than the network; SubnetMin the second subnet, SubnetMax the last.
 */
function pool(c: Record<string, unknown>, network: CIDR, f: { len: string; min: string; max: string }): SubnetPool {
  const width = network.ip.family === 4 ? 32 : 128;
  const usual = network.ip.family === 4 ? 24 : 64;
  const subnetLen = c[f.len] === undefined || c[f.len] === 0 ? Math.max(usual, network.prefix + 2) : Number(c[f.len]);
  if (!Number.isInteger(subnetLen) || subnetLen <= network.prefix || subnetLen > width - 2) {
    throw new ConfigError(
      `network config: "${f.len}" ${JSON.stringify(c[f.len])} must be an integer between ${network.prefix + 1} and ${width - 2}`,
    );
  }
  const family = network.ip.family;
  const step = 1n << BigInt(width - subnetLen);
  const first = { ip: { family, value: network.ip.value + step }, prefix: subnetLen };
  const last = {
    ip: { family, value: network.ip.value + (1n << BigInt(width - network.prefix)) - step },
    prefix: subnetLen,
  };
  const bound = (field: string, dflt: CIDR): CIDR => {
    const v = c[field];
    if (v === undefined || v === '' || v === null) return dflt;
    const ip = typeof v === 'string' ? parseCIDR(`${v}/${subnetLen}`) : undefined;
    if (!ip || ip.ip.family !== family || !cidrContains(network, ip.ip) || ip.ip.value % step !== 0n)
      throw new ConfigError(
        `network config: "${field}" ${JSON.stringify(v)} is not a subnet start inside ${formatCIDR(network)}`,
      );
    return ip;
  };
  const subnetMin = bound(f.min, first);
  const subnetMax = bound(f.max, last);
  if (subnetMin.ip.value > subnetMax.ip.value) throw new ConfigError(`network config: "${f.min}" is above "${f.max}"`);
  return { network, subnetLen, subnetMin, subnetMax };
}

export function parseNetworkConfig(text: string): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`network config is not JSON: ${(err as Error).message}`);
  }
  const c = obj(raw);
  if (typeof c.Network !== 'string')
    throw new ConfigError('network config: "Network" is missing (IPv6-only networks are not supported)');
  const parsed = parseCIDR(c.Network);
  if (!parsed || parsed.ip.family !== 4)
    throw new ConfigError(`network config: "Network" ${JSON.stringify(c.Network)} is not an IPv4 CIDR`);
  const network = networkOf(parsed);
  const v4 = pool(c, network, { len: 'SubnetLen', min: 'SubnetMin', max: 'SubnetMax' });
  if (c.EnableIPv4 === false) throw new ConfigError('network config: "EnableIPv4": false (IPv6-only) is not supported');
  let ipv6: SubnetPool | undefined;
  if (c.EnableIPv6 === true) {
    const p6 = typeof c.IPv6Network === 'string' && c.IPv6Network ? parseCIDR(c.IPv6Network) : undefined;
    if (!p6 || p6.ip.family !== 6)
      throw new ConfigError(
        `network config: "EnableIPv6" needs "IPv6Network" as an IPv6 CIDR, not ${JSON.stringify(c.IPv6Network)}`,
      );
    ipv6 = pool(c, networkOf(p6), { len: 'IPv6SubnetLen', min: 'IPv6SubnetMin', max: 'IPv6SubnetMax' });
  }
  const b = obj(c.Backend);
  const type = b.Type === undefined ? 'udp' : b.Type;
  if (type !== 'vxlan' && type !== 'host-gw')
    throw new ConfigError(`network config: backend type ${JSON.stringify(type)} is not supported (vxlan, host-gw)`);
  const vni = b.VNI === undefined ? 1 : Number(b.VNI);
  if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff)
    throw new ConfigError(`network config: "VNI" ${JSON.stringify(b.VNI)} is not a 24-bit integer`);
  const port = b.Port === undefined || b.Port === 0 ? 8472 : Number(b.Port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new ConfigError(`network config: "Port" ${JSON.stringify(b.Port)} is not a UDP port`);
  return {
    ...v4,
    ipv6,
    ipv6Ignored: !ipv6 && typeof c.IPv6Network === 'string' && c.IPv6Network !== '',
    backend: { type, vni, port, directRouting: (b.DirectRouting ?? b.directRouting) === true },
    raw,
  };
}

/** Every subnet the manager may hand out, in order (SubnetMin..SubnetMax). */
export function* candidateSubnets(p: SubnetPool): Generator<CIDR> {
  const family = p.network.ip.family;
  const step = 1n << BigInt((family === 4 ? 32 : 128) - p.subnetLen);
  for (let v = p.subnetMin.ip.value; v <= p.subnetMax.ip.value; v += step)
    yield { ip: { family, value: v }, prefix: p.subnetLen };
}

/** flannel's etcd key for a lease: 10.244.1.0/24 → 10.244.1.0-24; dual-stack 10.244.1.0-24&fd00:10:244:1::-64. */
export const subnetKey = (s: CIDR, s6?: CIDR): string =>
  `${formatIP(s.ip)}-${s.prefix}${s6 ? `&${formatIP(s6.ip)}-${s6.prefix}` : ''}`;

/** The subnets a lease key names (flannel's pattern: an IPv4 subnet, optionally `&` and an IPv6 one). */
export function subnetFromKey(key: string): { subnet: CIDR; subnet6?: CIDR } | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,2})(?:&([0-9a-f:]+)-(\d{1,3}))?$/.exec(key);
  const subnet = m ? parseCIDR(`${m[1]}/${m[2]}`) : undefined;
  if (!m || !subnet) return undefined;
  if (m[3] === undefined) return { subnet };
  const subnet6 = parseCIDR(`${m[3]}/${m[4]}`);
  return subnet6?.ip.family === 6 && subnet6.prefix <= 128 ? { subnet, subnet6 } : undefined;
}

export const sameSubnet = (a: CIDR, b: CIDR): boolean => a.prefix === b.prefix && a.ip.value === b.ip.value;
export const inPool = (p: SubnetPool, s: CIDR): boolean =>
  s.ip.family === p.network.ip.family &&
  s.prefix === p.subnetLen &&
  cidrContains(p.network, s.ip) &&
  s.ip.value >= p.subnetMin.ip.value &&
  s.ip.value <= p.subnetMax.ip.value;
export const inNetwork = (cfg: NetworkConfig, s: CIDR): boolean => inPool(cfg, s);
/** flannel's test for a lease it may keep: the IPv6 subnet in the pool when IPv6 is enabled, absent when not. */
export const ipv6Compatible = (cfg: NetworkConfig, s6: CIDR | undefined): boolean =>
  cfg.ipv6 ? !!s6 && inPool(cfg.ipv6, s6) : !s6;
