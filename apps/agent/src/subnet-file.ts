/** subnet.env, the file the flannel CNI plugin reads: written whole to a temporary file, then renamed. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatCIDR, formatIP, parseCIDR, type CIDR } from '@tscni/net/host';

export interface SubnetEnv {
  network: CIDR;
  subnet: CIDR;
  /** Dual-stack: the IPv6 network and this node's IPv6 subnet. */
  ipv6?: { network: CIDR; subnet: CIDR };
  mtu: number;
  ipMasq: boolean;
}

/** The subnet's first host address with the subnet's length (the bridge's gateway), as flanneld writes it. */
const firstHost = (s: CIDR) => `${formatIP({ family: s.ip.family, value: s.ip.value + 1n })}/${s.prefix}`;

/** flanneld's lines in its order: FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_IPV6_NETWORK, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ. */
export function formatSubnetEnv(e: SubnetEnv): string {
  const v6 = e.ipv6
    ? `FLANNEL_IPV6_NETWORK=${formatCIDR(e.ipv6.network)}\nFLANNEL_IPV6_SUBNET=${firstHost(e.ipv6.subnet)}\n`
    : '';
  return `FLANNEL_NETWORK=${formatCIDR(e.network)}\nFLANNEL_SUBNET=${firstHost(e.subnet)}\n${v6}FLANNEL_MTU=${e.mtu}\nFLANNEL_IPMASQ=${e.ipMasq}\n`;
}

export function writeSubnetFile(path: string, e: SubnetEnv): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, formatSubnetEnv(e));
  renameSync(tmp, path);
}

/** The subnets a previous run wrote (flanneld tries to get the same ones back), if readable. */
export function previousSubnets(path: string): { subnet?: CIDR; subnet6?: CIDR } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  return { subnet: subnetOf(text, 'FLANNEL_SUBNET', 4), subnet6: subnetOf(text, 'FLANNEL_IPV6_SUBNET', 6) };
}

function subnetOf(text: string, name: string, family: 4 | 6): CIDR | undefined {
  const m = new RegExp(`^${name}=(\\S+)$`, 'm').exec(text);
  const c = m ? parseCIDR(m[1]) : undefined;
  if (!c || c.ip.family !== family) return undefined;
  const host = (1n << BigInt((family === 4 ? 32 : 128) - c.prefix)) - 1n;
  return { ip: { family, value: c.ip.value & ~host }, prefix: c.prefix };
}
