/**
 * flannel's network configuration (`<prefix>/config`) and the subnet arithmetic of its etcd subnet
 * manager: SubnetLen defaults to 24 (two bits longer than the network's prefix when that is longer), SubnetMin to
 * the network's second subnet, SubnetMax to its last.
 */
import { cidrContains, formatCIDR, formatIP, networkOf, parseCIDR, type CIDR } from '@tscni/net/host';

export type BackendType = 'vxlan' | 'host-gw';

export interface NetworkConfig {
  network: CIDR;
  subnetLen: number;
  subnetMin: CIDR;
  subnetMax: CIDR;
  ipv6Network?: CIDR;
  backend: { type: BackendType; vni: number; port: number; directRouting: boolean };
  /** The JSON as stored, for logs. */
  raw: unknown;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export function parseNetworkConfig(text: string): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`network config is not JSON: ${(err as Error).message}`);
  }
  const c = obj(raw);
  if (typeof c.Network !== 'string') throw new ConfigError('network config: "Network" is missing (IPv6-only networks are not supported)');
  const parsed = parseCIDR(c.Network);
  if (!parsed || parsed.ip.family !== 4) throw new ConfigError(`network config: "Network" ${JSON.stringify(c.Network)} is not an IPv4 CIDR`);
  const network = networkOf(parsed);
  const subnetLen = c.SubnetLen === undefined ? Math.max(24, network.prefix + 2) : Number(c.SubnetLen);
  if (!Number.isInteger(subnetLen) || subnetLen <= network.prefix || subnetLen > 30) {
    throw new ConfigError(`network config: "SubnetLen" ${JSON.stringify(c.SubnetLen)} must be an integer between ${network.prefix + 1} and 30`);
  }
  const step = 1n << BigInt(32 - subnetLen);
  const first = { ip: { family: 4 as const, value: network.ip.value + step }, prefix: subnetLen };
  const last = { ip: { family: 4 as const, value: network.ip.value + (1n << BigInt(32 - network.prefix)) - step }, prefix: subnetLen };
  const bound = (field: 'SubnetMin' | 'SubnetMax', dflt: CIDR): CIDR => {
    const v = c[field];
    if (v === undefined || v === '') return dflt;
    const ip = typeof v === 'string' ? parseCIDR(`${v}/${subnetLen}`) : undefined;
    if (!ip || !cidrContains(network, ip.ip) || ip.ip.value % step !== 0n) throw new ConfigError(`network config: "${field}" ${JSON.stringify(v)} is not a subnet start inside ${formatCIDR(network)}`);
    return ip;
  };
  const subnetMin = bound('SubnetMin', first);
  const subnetMax = bound('SubnetMax', last);
  if (subnetMin.ip.value > subnetMax.ip.value) throw new ConfigError('network config: "SubnetMin" is above "SubnetMax"');
  let ipv6Network: CIDR | undefined;
  if (typeof c.IPv6Network === 'string' && c.IPv6Network) {
    ipv6Network = parseCIDR(c.IPv6Network);
    if (!ipv6Network || ipv6Network.ip.family !== 6) throw new ConfigError(`network config: "IPv6Network" ${JSON.stringify(c.IPv6Network)} is not an IPv6 CIDR`);
  }
  const b = obj(c.Backend);
  const type = b.Type === undefined ? 'udp' : b.Type;
  if (type !== 'vxlan' && type !== 'host-gw') throw new ConfigError(`network config: backend type ${JSON.stringify(type)} is not supported (vxlan, host-gw)`);
  const vni = b.VNI === undefined ? 1 : Number(b.VNI);
  if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) throw new ConfigError(`network config: "VNI" ${JSON.stringify(b.VNI)} is not a 24-bit integer`);
  const port = b.Port === undefined || b.Port === 0 ? 8472 : Number(b.Port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`network config: "Port" ${JSON.stringify(b.Port)} is not a UDP port`);
  return { network, subnetLen, subnetMin, subnetMax, ipv6Network, backend: { type, vni, port, directRouting: b.DirectRouting === true }, raw };
}

/** Every subnet the manager may hand out, in order (SubnetMin..SubnetMax). */
export function* candidateSubnets(cfg: NetworkConfig): Generator<CIDR> {
  const step = 1n << BigInt(32 - cfg.subnetLen);
  for (let v = cfg.subnetMin.ip.value; v <= cfg.subnetMax.ip.value; v += step) yield { ip: { family: 4, value: v }, prefix: cfg.subnetLen };
}

/** flannel's etcd key for a subnet: 10.244.1.0/24 → 10.244.1.0-24. */
export const subnetKey = (s: CIDR): string => `${formatIP(s.ip)}-${s.prefix}`;

export function subnetFromKey(key: string): CIDR | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,2})$/.exec(key);
  return m ? parseCIDR(`${m[1]}/${m[2]}`) : undefined;
}

export const sameSubnet = (a: CIDR, b: CIDR): boolean => a.prefix === b.prefix && a.ip.value === b.ip.value;
export const inNetwork = (cfg: NetworkConfig, s: CIDR): boolean => s.prefix === cfg.subnetLen && cidrContains(cfg.network, s.ip) && s.ip.value >= cfg.subnetMin.ip.value && s.ip.value <= cfg.subnetMax.ip.value;
